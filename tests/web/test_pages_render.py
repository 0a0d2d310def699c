"""Every console page renders for the owner, in both languages, with real data on it."""

from __future__ import annotations

import pytest

from tests import factories

PAGES = (
    "/console",
    "/console/customers",
    "/console/customers/new",
    "/console/customers/import",
    "/console/tags",
    "/console/products",
    "/console/products/new",
    "/console/settings/shop",
    "/console/settings/staff",
    "/console/settings/api-keys",
    "/console/settings/audit",
    "/console/segments",
    "/console/communities",
    "/console/live",
    "/console/orders",
    "/console/outreach",
    "/console/scripts",
    "/console/journeys",
    "/console/analytics",
    "/console/insight",
)


@pytest.fixture
async def data(session, shop):  # type: ignore[no-untyped-def]
    group = await factories.make_tag_group(session, shop_id=shop.id, name="价值")
    vip = await factories.make_tag(session, shop_id=shop.id, name="VIP", group_id=group.id)
    customer = await factories.make_customer(
        session, shop_id=shop.id, name="林青", phone="13800000000", tags=[vip]
    )
    category = await factories.make_category(session, shop_id=shop.id, name="乌龙")
    product = await factories.make_product(session, shop_id=shop.id, category_id=category.id)
    return {"customer": customer, "product": product}


@pytest.mark.parametrize("language", ["zh_CN", "en"])
async def test_every_console_page_renders_for_the_owner(console, data, language) -> None:
    await console.post("/console/language", data={"language": language, "csrf_token": console.csrf})
    pages = (
        *PAGES,
        f"/console/customers/{data['customer'].id}",
        f"/console/products/{data['product'].id}",
    )
    for url in pages:
        response = await console.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-language"] == language.replace("_", "-"), url
        assert "</html>" in response.text, url
        assert 'class="nav-item active' in response.text, url
