import pytest

from liveloop.shops import service as shops_service
from liveloop.shops.models import AuditEntry
from liveloop.shops.service import actor_for_staff
from tests import factories


async def test_me_shows_shop_and_permissions(client) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["shop"]["timezone"] == "Asia/Shanghai"
    assert body["shop"]["currency"] == "CNY"
    assert "customers.reveal_pii" in body["permissions"]


async def test_missing_or_bad_key_is_401_with_code(anon_client) -> None:
    response = await anon_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    response = await anon_client.get("/api/v1/me", headers={"Authorization": "Bearer ll_dead_beef"})
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_api_key",
        "message": "the API key is unknown or revoked",
        "field": "authorization",
    }


async def test_api_key_shown_once_stored_hashed_and_revocable(client, session) -> None:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "ERP", "permissions": ["customers.read"]}
    )
    assert response.status_code == 201
    created = response.json()
    key = created["key"]
    assert key.startswith("ll_")
    listed = (await client.get("/api/v1/api-keys")).json()
    assert all("key" not in item for item in listed)
    narrow = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/me", headers=narrow)).json()["permissions"] == [
        "customers.read"
    ]
    denied = await client.get("/api/v1/staff", headers=narrow)
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"
    assert (await client.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 200
    assert (await client.get("/api/v1/me", headers=narrow)).status_code == 401


async def test_api_key_cannot_grant_unknown_permission(client) -> None:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "x", "permissions": ["root.everything"]}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "permissions"


async def test_role_change_is_audited(client, session, shop) -> None:
    staff = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    response = await client.put(f"/api/v1/staff/{staff.id}/role", json={"role": "operator"})
    assert response.status_code == 200
    assert response.json()["role"] == "operator"
    audit = (await client.get("/api/v1/audit", params={"action": "staff.role_change"})).json()
    assert audit["total"] == 1
    assert audit["items"][0]["details"] == {"from": "analyst", "to": "operator"}


async def test_unknown_role_and_unknown_field_are_422_with_field(client, session, shop) -> None:
    staff = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    response = await client.put(f"/api/v1/staff/{staff.id}/role", json={"role": "king"})
    assert response.status_code == 422
    assert response.json()["field"] == "role"
    response = await client.put(
        f"/api/v1/staff/{staff.id}/role", json={"role": "owner", "extra": 1}
    )
    assert response.json()["field"] == "extra"


async def test_malformed_json_is_422_not_500(client) -> None:
    response = await client.post(
        "/api/v1/api-keys", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"


async def test_staff_of_another_shop_is_not_found(client, session, other_shop) -> None:
    stranger = await factories.make_staff(session, shop_id=other_shop.id, role="operator")
    response = await client.put(f"/api/v1/staff/{stranger.id}/role", json={"role": "owner"})
    assert response.status_code == 404
    assert response.json()["code"] == "staff_not_found"


async def test_login_checks_password_and_is_audited(session, shop) -> None:
    staff = await factories.make_staff(
        session, shop_id=shop.id, role="anchor", email="anchor@example.com"
    )
    with pytest.raises(Exception, match="wrong e-mail or password"):
        await shops_service.authenticate_staff(
            session=session, email="anchor@example.com", password="nope-nope"
        )
    logged = await shops_service.authenticate_staff(
        session=session, email="ANCHOR@example.com", password=factories.PASSWORD
    )
    assert logged.id == staff.id
    actions = [
        e.action
        for e in (
            await session.execute(shops_service.scoped(AuditEntry, shop.id).order_by(AuditEntry.id))
        ).scalars()
    ]
    assert actions == ["login.failed", "login"]


def test_anchor_cannot_reveal_pii(owner) -> None:
    owner.role = "anchor"
    assert not actor_for_staff(owner).can("customers.reveal_pii")
