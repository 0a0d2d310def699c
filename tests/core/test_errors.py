from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from liveloop.core.errors import Conflict, field_path, install_error_handlers


class Item(BaseModel):
    name: str
    qty: int


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter()

    @router.post("/items")
    async def create(items: list[Item]) -> dict[str, int]:
        return {"n": len(items)}

    @router.get("/conflict")
    async def conflict() -> None:
        raise Conflict("SKU code T-1 is taken", code="sku_code_taken", field="code")

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail 13812345678")

    app.include_router(router)
    return app


def test_domain_error_becomes_code_message_field() -> None:
    response = TestClient(_app()).get("/conflict")
    assert response.status_code == 409
    assert response.json() == {
        "code": "sku_code_taken",
        "message": "SKU code T-1 is taken",
        "field": "code",
    }


def test_validation_error_names_the_path() -> None:
    response = TestClient(_app()).post(
        "/items", json=[{"name": "a", "qty": 1}, {"name": "b", "qty": "many"}]
    )
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "[1].qty"
    assert body["errors"][0]["field"] == "[1].qty"


def test_unexpected_error_is_500_without_detail() -> None:
    response = TestClient(_app(), raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "13812345678" not in response.text


def test_unknown_route_is_json_404() -> None:
    response = TestClient(_app()).get("/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_field_path() -> None:
    assert field_path(("body", "events", 3, "type")) == "events[3].type"
    assert field_path(("query", "page")) == "page"
