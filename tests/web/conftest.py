"""Console test helpers: log in through the real login form, read CSRF tokens from pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests import factories

CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def log_in(client: httpx.AsyncClient, email: str, password: str = factories.PASSWORD) -> str:
    """GET the login page for its token, POST the form; return the new CSRF token."""
    page = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text
    return csrf_from((await client.get("/console")).text)


@pytest.fixture
async def console(anon_client: httpx.AsyncClient, owner) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """A browser-like client logged in as the shop owner; `console.csrf` holds the token."""
    anon_client.csrf = await log_in(anon_client, owner.email)  # type: ignore[attr-defined]
    yield anon_client


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict | None = None, **kwargs
) -> httpx.Response:  # type: ignore[no-untyped-def]
    """POST a console form with the session's CSRF token."""
    return await client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)  # type: ignore[attr-defined]
