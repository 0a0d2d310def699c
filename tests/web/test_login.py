"""Console login, logout, CSRF and the language switch, through the real forms."""

from __future__ import annotations

from sqlalchemy import select

from liveloop.shops import service as shops_service
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.web.conftest import csrf_from, log_in, post_form


async def test_console_redirects_to_login_and_back(anon_client, owner) -> None:
    response = await anon_client.get("/console/settings/staff")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/settings/staff"
    page = await anon_client.get(response.headers["location"])
    assert 'name="next" value="/console/settings/staff"' in page.text
    response = await anon_client.post(
        "/console/login",
        data={
            "email": owner.email.upper(),
            "password": factories.PASSWORD,
            "next": "/console/settings/staff",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/settings/staff"
    assert (await anon_client.get("/console/settings/staff")).status_code == 200


async def test_root_redirects_to_console(anon_client) -> None:
    response = await anon_client.get("/")
    assert response.status_code == 302
    assert response.headers["location"] == "/console"


async def test_wrong_password_rerenders_the_form_and_is_audited(
    anon_client, owner, session
) -> None:
    page = await anon_client.get("/console/login")
    response = await anon_client.post(
        "/console/login",
        data={
            "email": owner.email,
            "password": "nope-nope-nope",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 400
    assert "邮箱或密码错误" in response.text
    assert f'value="{owner.email}"' in response.text
    assert (await anon_client.get("/console")).status_code == 303
    actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "login.failed" in actions


async def test_unknown_email_and_empty_form_are_not_errors_of_ours(anon_client) -> None:
    page = await anon_client.get("/console/login")
    token = csrf_from(page.text)
    unknown = await anon_client.post(
        "/console/login", data={"email": "nobody@example.com", "password": "x", "csrf_token": token}
    )
    assert unknown.status_code == 400
    empty = await anon_client.post("/console/login", data={"csrf_token": token})
    assert empty.status_code == 400


async def test_deactivated_staff_cannot_log_in(anon_client, session, shop, actor) -> None:
    staff = await factories.make_staff(session, shop_id=shop.id, role="operator")
    await shops_service.set_staff_active(
        session=session, actor=actor, staff_id=staff.id, active=False
    )
    page = await anon_client.get("/console/login")
    response = await anon_client.post(
        "/console/login",
        data={
            "email": staff.email,
            "password": factories.PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 400


async def test_login_without_csrf_is_refused(anon_client, owner) -> None:
    await anon_client.get("/console/login")
    response = await anon_client.post(
        "/console/login", data={"email": owner.email, "password": factories.PASSWORD}
    )
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert (await anon_client.get("/console")).status_code == 303


async def test_console_form_without_csrf_is_refused(console, session, shop) -> None:
    response = await console.post(
        "/console/settings/shop", data={"name": "Hacked", "timezone": "UTC"}
    )
    assert response.status_code == 403
    assert "csrf_failed" in response.text
    response = await console.post(
        "/console/settings/shop",
        data={"name": "Hacked", "timezone": "UTC", "csrf_token": "forged"},
    )
    assert response.status_code == 403
    await session.refresh(shop)
    assert shop.name != "Hacked"


async def test_htmx_header_token_is_accepted(console, shop, session) -> None:
    response = await console.post(
        "/console/settings/shop",
        data={"name": "新店名", "timezone": "Asia/Shanghai"},
        headers={"X-CSRF-Token": console.csrf, "HX-Request": "true"},
    )
    assert response.status_code == 303
    await session.refresh(shop)
    assert shop.name == "新店名"


async def test_next_only_follows_local_paths(anon_client, owner) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil"):
        page = await anon_client.get("/console/login")
        response = await anon_client.post(
            "/console/login",
            data={
                "email": owner.email,
                "password": factories.PASSWORD,
                "next": target,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert response.headers["location"] == "/console", target
        await post_form_logout(anon_client)


async def post_form_logout(client) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/console")
    await client.post("/console/logout", data={"csrf_token": csrf_from(page.text)})


async def test_login_renews_the_csrf_token(anon_client, owner) -> None:
    before = csrf_from((await anon_client.get("/console/login")).text)
    after = await log_in(anon_client, owner.email)
    assert before != after


async def test_logout_ends_the_session(console) -> None:
    assert (await console.get("/console")).status_code == 200
    refused = await console.post("/console/logout")
    assert refused.status_code == 403
    response = await post_form(console, "/console/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert (await console.get("/console")).status_code == 303


async def test_language_switch_changes_the_console_text(console) -> None:
    page = await console.get("/console")
    assert "首页" in page.text and 'lang="zh-CN"' in page.text
    response = await post_form(
        console, "/console/language", {"language": "en", "next": "/console/settings/staff"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/settings/staff"
    page = await console.get("/console")
    assert 'lang="en"' in page.text
    assert "Dashboard" in page.text and "首页" not in page.text
    await post_form(console, "/console/language", {"language": "zh_CN"})
    assert "首页" in (await console.get("/console")).text


async def test_language_switch_needs_csrf(anon_client) -> None:
    await anon_client.get("/console/login")
    response = await anon_client.post("/console/language", data={"language": "en"})
    assert response.status_code == 403


async def test_language_survives_logout_and_applies_to_login_page(console) -> None:
    await post_form(console, "/console/language", {"language": "en"})
    await post_form(console, "/console/logout")
    page = await console.get("/console/login")
    assert "Log in to the console" in page.text


async def test_accept_language_picks_english_before_any_choice(anon_client) -> None:
    page = await anon_client.get("/console/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Log in to the console" in page.text
    assert page.headers["content-language"] == "en"
    page = await anon_client.get("/console/login", headers={"Accept-Language": "fr"})
    assert "登录管理后台" in page.text


async def test_staff_language_preference_applies_at_login(anon_client, session, shop) -> None:
    staff = await factories.make_staff(session, shop_id=shop.id, role="operator")
    staff.language = "en"
    await session.flush()
    await log_in(anon_client, staff.email)
    assert "Dashboard" in (await anon_client.get("/console")).text


async def test_language_switch_is_saved_on_the_staff_account(anon_client, session, shop) -> None:
    staff = await factories.make_staff(session, shop_id=shop.id, role="operator")
    anon_client.csrf = await log_in(anon_client, staff.email)
    response = await post_form(anon_client, "/console/language", {"language": "en"})
    assert response.status_code == 303
    assert response.cookies.get("lang") == "en"
    await session.refresh(staff)
    assert staff.language == "en"
    # Another browser: no session choice, no cookie, a Chinese Accept-Language; the account wins.
    await post_form(anon_client, "/console/logout")
    anon_client.cookies.clear()
    await log_in(anon_client, staff.email)
    page = await anon_client.get("/console", headers={"Accept-Language": "zh-CN"})
    assert "Dashboard" in page.text and 'lang="en"' in page.text


async def test_language_switch_before_login_saves_nothing(anon_client, session, owner) -> None:
    token = csrf_from((await anon_client.get("/console/login")).text)
    response = await anon_client.post(
        "/console/language", data={"language": "en", "csrf_token": token}
    )
    assert response.status_code == 303
    await session.refresh(owner)
    assert owner.language is None


async def test_set_staff_language_service(session, shop) -> None:
    staff = await factories.make_staff(session, shop_id=shop.id, role="operator")
    assert await shops_service.set_staff_language(
        session=session, staff_id=staff.id, language="zh_CN"
    )
    await session.refresh(staff)
    assert staff.language == "zh_CN"
    assert not await shops_service.set_staff_language(
        session=session, staff_id=staff.id + 1000, language="en"
    )


async def test_expired_login_form_shows_the_form_again_in_chinese(anon_client, owner) -> None:
    await anon_client.get("/console/login")
    response = await anon_client.post(
        "/console/login",
        data={"email": owner.email, "password": factories.PASSWORD, "csrf_token": "stale"},
    )
    assert response.status_code == 403
    assert "登录页已过期，请重新登录。" in response.text
    assert f'value="{owner.email}"' in response.text
    # The fresh token on that page works.
    retry = await anon_client.post(
        "/console/login",
        data={
            "email": owner.email,
            "password": factories.PASSWORD,
            "csrf_token": csrf_from(response.text),
        },
    )
    assert retry.status_code == 303


async def test_expired_console_form_is_explained_in_each_language(console) -> None:
    response = await console.post("/console/settings/shop", data={"csrf_token": "stale"})
    assert response.status_code == 403
    assert "表单已过期" in response.text and "请刷新页面后重试" in response.text
    assert "csrf_failed" in response.text
    await post_form(console, "/console/language", {"language": "en"})
    response = await console.post("/console/settings/shop", data={"csrf_token": "stale"})
    assert "This form has expired" in response.text
