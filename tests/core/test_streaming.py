"""A streamed response reads in a unit of work of its own and returns its connection."""

import httpx

from liveloop.core.database import Database
from liveloop.shops import service as shops_service
from tests.factories.shops import drop_shop


async def test_streamed_export_on_the_real_app_leaves_no_connection_checked_out(
    settings, database: Database
) -> None:
    from liveloop.app import create_app

    async with database.unit_of_work() as session:
        shop = await shops_service.create_shop(session=session, name="流式导出")
        _, key = await shops_service.create_api_key(
            session=session,
            actor=shops_service.system_actor(shop.id),
            name="k",
            permissions=["customers.export"],
        )
    app = create_app(settings, database=database)  # no test overrides: the real units of work
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get(
                "/api/v1/customers/export.csv", headers={"Authorization": f"Bearer {key}"}
            )
        assert response.status_code == 200
        assert response.text.startswith("\ufeff")
        assert database.engine.pool.checkedout() == 0
    finally:
        async with database.unit_of_work() as session:
            await drop_shop(session, shop.id)
