"""Builds the ASGI app from the domains' routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module

from fastapi import Depends, FastAPI
from starlette.middleware.sessions import SessionMiddleware

from liveloop.core.bus import make_bus
from liveloop.core.database import Database
from liveloop.core.deps import check_number_ranges
from liveloop.core.errors import install_error_handlers
from liveloop.core.health import router as health_router
from liveloop.core.jobs import queue
from liveloop.core.logging import configure_logging
from liveloop.core.metrics import record_request
from liveloop.core.settings import Settings, get_settings_or_exit
from liveloop.customers.crypto import configure_cipher
from liveloop.live.hub import RoomHub

# Each module exposes `router`; order matters only for overlapping paths (none today).
ROUTER_MODULES = (
    "liveloop.shops.api",
    "liveloop.customers.api",
    "liveloop.customers.rfm.api",
    "liveloop.customers.tagrules.api",
    "liveloop.customers.segments.api",
    "liveloop.customers.communities.api",
    "liveloop.customers.channel_codes.api",
    "liveloop.catalog.api",
    "liveloop.events.api",
    "liveloop.live.ws",
    "liveloop.live.api",
    "liveloop.live.public_api",
    "liveloop.commerce.api",
    "liveloop.commerce.viewer_api",
    "liveloop.customers.phone_codes.api",
    "liveloop.commerce.coupons.api",
    "liveloop.commerce.coupons.viewer_api",
    "liveloop.customers.points.api",
    "liveloop.customers.points.viewer_api",
    "liveloop.commerce.flash.api",
    "liveloop.commerce.flash.viewer_api",
    "liveloop.commerce.payments.api",
    "liveloop.commerce.payments.pages",
    "liveloop.commerce.groupbuy.api",
    "liveloop.commerce.assist.api",
    "liveloop.commerce.affiliates.api",
    "liveloop.commerce.groupbuy.pages",
    "liveloop.commerce.assist.pages",
    "liveloop.commerce.affiliates.pages",
    "liveloop.web.pages",
    "liveloop.shops.pages",
    "liveloop.customers.pages",
    "liveloop.customers.rfm.pages",
    "liveloop.customers.tagrules.pages",
    "liveloop.customers.segments.pages",
    "liveloop.customers.communities.pages",
    "liveloop.customers.channel_codes.pages",
    "liveloop.customers.points.pages",
    "liveloop.customers.fission.api",
    "liveloop.customers.fission.pages",
    "liveloop.catalog.pages",
    "liveloop.commerce.pages",
    "liveloop.commerce.coupons.pages",
    "liveloop.commerce.flash.pages",
    "liveloop.commerce.mall_pages",
    "liveloop.live.pages",
    "liveloop.live.words_pages",
    "liveloop.live.viewer_pages",
    "liveloop.live.room_console",
    "liveloop.live.lottery.api",
    "liveloop.live.lottery.viewer_api",
    "liveloop.live.redpackets.api",
    "liveloop.live.redpackets.viewer_api",
    "liveloop.live.polls.api",
    "liveloop.live.polls.viewer_api",
    "liveloop.live.welfare.api",
    "liveloop.live.welfare.viewer_api",
    "liveloop.live.mic.api",
    "liveloop.live.mic.viewer_api",
    "liveloop.live.servicechat.api",
    "liveloop.live.servicechat.viewer_api",
    "liveloop.live.servicechat.pages",
    "liveloop.outreach.scripts.api",
    "liveloop.outreach.scripts.pages",
    "liveloop.analytics.api",
    "liveloop.analytics.pages",
    "liveloop.outreach.channels.api",
    "liveloop.outreach.channels.pages",
    "liveloop.outreach.messages.api",
    "liveloop.outreach.messages.pages",
    "liveloop.outreach.consent.api",
    "liveloop.outreach.consent.pages",
    "liveloop.outreach.broadcasts.api",
    "liveloop.outreach.broadcasts.pages",
    "liveloop.analytics.attribution.api",
    "liveloop.analytics.attribution.pages",
    "liveloop.analytics.funnels.api",
    "liveloop.analytics.funnels.pages",
    "liveloop.analytics.realtime.api",
    "liveloop.analytics.realtime.pages",
    "liveloop.analytics.cohorts.api",
    "liveloop.analytics.cohorts.pages",
)

# Modules declaring background jobs, imported so the queue knows every task.
JOB_MODULES = (
    "liveloop.customers.tasks",
    "liveloop.customers.rfm.tasks",
    "liveloop.customers.communities.tasks",
    "liveloop.commerce.tasks",
    "liveloop.commerce.flash.service",
    "liveloop.commerce.payments.tasks",
    "liveloop.commerce.groupbuy.tasks",
    "liveloop.commerce.assist.tasks",
    "liveloop.commerce.affiliates.tasks",
    "liveloop.customers.points.tasks",
    "liveloop.customers.fission.tasks",
    "liveloop.live.lottery.tasks",
    "liveloop.live.redpackets.service",
    "liveloop.live.polls.tasks",
    "liveloop.live.welfare.tasks",
    "liveloop.live.mic.tasks",
    "liveloop.analytics.tasks",
    "liveloop.outreach.channels.tasks",
    "liveloop.outreach.consent.tasks",
    "liveloop.outreach.broadcasts.tasks",
    "liveloop.analytics.realtime.tasks",
)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    run_embedded_worker: bool = False,
) -> FastAPI:
    settings = settings or get_settings_or_exit()
    configure_logging(settings.log_level, json=settings.log_json)
    for module in JOB_MODULES:
        import_module(module)
    queue.configure(settings)
    configure_cipher(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await app.state.hub.start()
        if run_embedded_worker:
            queue.start_embedded_consumer()
        try:
            yield
        finally:
            if run_embedded_worker:
                queue.stop_embedded_consumer()
            await app.state.hub.stop()  # viewers told to reconnect; the event buffer flushed
            await app.state.bus.close()
            if owns_database:
                await app.state.database.dispose()

    owns_database = database is None
    app = FastAPI(
        dependencies=[Depends(check_number_ranges)],
        title="LiveLoop",
        version="0.1.0",
        lifespan=lifespan,
        description="Private-domain live commerce: SCRM, live room, commerce and analytics.",
    )
    app.state.settings = settings
    app.state.database = database or Database(
        settings.resolved_database_url, echo=settings.sql_echo, pool_size=settings.db_pool_size
    )
    app.state.bus = make_bus(settings.bus_backend, settings.redis_url)
    app.state.hub = RoomHub(bus=app.state.bus, database=app.state.database, settings=settings)

    install_error_handlers(app)
    app.middleware("http")(record_request)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie="liveloop_session",
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    app.include_router(health_router)
    for module in ROUTER_MODULES:
        app.include_router(import_module(module).router)

    from liveloop.web.static import mount_static

    mount_static(app, settings)
    return app
