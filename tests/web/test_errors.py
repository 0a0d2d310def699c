"""Errors: the console gets an HTML page in its layout, the API keeps JSON."""

from __future__ import annotations


async def test_unknown_console_page_is_an_html_404(console) -> None:
    response = await console.get("/console/no-such-page")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "页面不存在" in response.text


async def test_api_errors_stay_json(anon_client) -> None:
    response = await anon_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    response = await anon_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


async def test_placeholder_areas_say_not_yet_available(console) -> None:
    for area in (
        "journeys",
        "insight",
    ):
        response = await console.get(f"/console/{area}")
        assert response.status_code == 200, area
        assert "暂未开放" in response.text
        assert f'data-nav="{area}"' in response.text


async def test_error_page_never_reads_the_rolled_back_shop_row(app) -> None:
    """After the unit of work rolls back, the ORM shop cannot be read; the layout uses the
    copy taken when the request started."""
    from starlette.requests import Request

    from liveloop.web.errors import render_error_page
    from liveloop.web.templating import LayoutShop

    class Detached:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"read {name} of a detached shop")

    request = Request(
        {"type": "http", "method": "GET", "path": "/console/customers/9", "headers": [],
         "query_string": b"", "session": {}, "app": app, "state": {}}
    )  # fmt: skip
    request.state.shop = Detached()
    request.state.layout_shop = LayoutShop(id=1, name="茶语小铺", timezone="Asia/Shanghai")
    response = render_error_page(request, 404, "customer_not_found", "customer 9 was not found")
    assert response.status_code == 404
    assert "茶语小铺" in response.body.decode()
