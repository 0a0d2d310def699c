"""Helpers for the room socket tests: a seeded SQLite file, real Uvicorn servers in
subprocesses, signed viewer tokens and a small WebSocket viewer client."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from liveloop.core.database import Database
from liveloop.core.settings import Settings
from liveloop.live import moderation
from liveloop.live.viewers import ROLE_STAFF, ViewerClaims, sign_viewer_token
from liveloop.models import Base
from liveloop.shops.service import actor_for_staff, system_actor
from tests.factories.catalog import make_product
from tests.factories.customers import make_customer
from tests.factories.live import make_live_session
from tests.factories.shops import make_api_key, make_shop, make_staff

SECRET_KEY = "test-secret-key-not-for-production"
REPO = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def token_settings(tmp: Path) -> Settings:
    return Settings(var_dir=tmp, secret_key=SECRET_KEY, log_level="warning")


async def seed_rooms(url: str, *, live_rooms: int = 6) -> dict[str, Any]:
    """A shop with an anchor, two customers, a product and `live_rooms` live sessions, plus an
    ended, a scheduled and another shop's live session; a banned device in room 0."""
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await make_shop(session, name="茶语小铺")
        anchor = await make_staff(session, shop_id=shop.id, email="anchor@example.com")
        alice = await make_customer(session, shop_id=shop.id, name="王芳")
        bob = await make_customer(session, shop_id=shop.id, name="李娜")
        product = await make_product(
            session,
            shop_id=shop.id,
            name="真丝围巾",
            skus=[
                {"price_fen": 19900, "stock": 80, "specs": {"颜色": "红色"}},
                {"price_fen": 25900, "stock": 40, "specs": {"颜色": "蓝色"}},
            ],
        )
        rooms = [
            await make_live_session(
                session, shop_id=shop.id, status="live", title=f"直播 {i}", product_ids=[product.id]
            )
            for i in range(live_rooms)
        ]
        ended = await make_live_session(session, shop_id=shop.id, status="ended")
        scheduled = await make_live_session(session, shop_id=shop.id, status="scheduled")
        other_shop = await make_shop(session, name="别家小店")
        other_room = await make_live_session(session, shop_id=other_shop.id, status="live")
        await moderation.ban(
            session=session,
            actor=system_actor(shop.id, label="test"),
            live_session_id=rooms[0].id,
            device_id="banned-device",
            reason="spam",
        )
        api_key = await make_api_key(session, actor=actor_for_staff(anchor))
        await session.commit()
        ids = {
            "api_key": api_key,
            "shop": shop.id,
            "anchor": anchor.id,
            "alice": alice.id,
            "bob": bob.id,
            "product": product.id,
            "rooms": [r.id for r in rooms],
            "ended": ended.id,
            "scheduled": scheduled.id,
            "other_shop": other_shop.id,
            "other_room": other_room.id,
        }
    await database.dispose()
    return ids


def start_server(
    url: str, port: int, var_dir: Path, log_path: Path, *, redis_url: str = ""
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIVELOOP_VAR_DIR": str(var_dir),
        "LIVELOOP_DATABASE_URL": url,
        "LIVELOOP_SECRET_KEY": SECRET_KEY,
        "LIVELOOP_QUEUE_BACKEND": "immediate",
        "LIVELOOP_BUS_BACKEND": "redis" if redis_url else "memory",
        "LIVELOOP_LOG_LEVEL": "warning",
    }
    for name in ("LIVELOOP_REDIS_URL", "LIVELOOP_PII_KEY", "LIVELOOP_BASE_URL"):
        env.pop(name, None)
    if redis_url:
        env["LIVELOOP_REDIS_URL"] = redis_url
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "liveloop.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip


def make_token(
    settings: Settings,
    *,
    shop_id: int,
    room: int | None,
    customer_id: int | None = None,
    device_id: str = "dev-1",
    name: str = "观众",
    staff_id: int | None = None,
    source_code: str = "",
) -> str:
    claims = ViewerClaims(
        shop_id=shop_id,
        live_session_id=room,
        customer_id=customer_id,
        device_id=device_id,
        name=name,
        role=ROLE_STAFF if staff_id is not None else "viewer",
        staff_id=staff_id,
        source_code=source_code,
    )
    return sign_viewer_token(settings, claims)


class Viewer:
    """A real WebSocket client that keeps every message it receives, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.msgs: list[dict[str, Any]] = []
        self.seqs: list[int] = []
        self._read = 0

    @classmethod
    async def join(cls, base_ws: str, room: int, token: str, last_seq: int | None = None) -> Viewer:
        ws = await connect(f"{base_ws}/ws/live/{room}", open_timeout=20)
        viewer = cls(ws)
        await viewer.send({"type": "join", "token": token, "last_seq": last_seq})
        return viewer

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    @property
    def last_seq(self) -> int:
        return max(self.seqs) if self.seqs else 0

    async def _one_frame(self, wait_s: float) -> None:
        raw = await asyncio.wait_for(self.ws.recv(), wait_s)
        frame = json.loads(raw)
        self.seqs.append(frame["seq"])
        self.msgs.extend(frame["msgs"])

    async def expect(
        self, match: Callable[[dict[str, Any]], bool], *, wait_s: float = 15.0
    ) -> dict[str, Any]:
        """The next message (after the last one returned) that matches; fails after `wait_s`
        seconds without one (a bound for a hung test, not a timing assertion)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            while self._read < len(self.msgs):
                msg = self.msgs[self._read]
                self._read += 1
                if match(msg):
                    return msg
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no matching message; got {self.msgs[-10:]}")
            await self._one_frame(left)

    async def expect_type(self, kind: str, **fields: Any) -> dict[str, Any]:
        return await self.expect(
            lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())
        )

    async def closed(self, *, wait_s: float = 15.0) -> tuple[int | None, str]:
        """Read until the server closes; the close code and reason."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        try:
            while loop.time() < deadline:
                await self._one_frame(deadline - loop.time())
        except Exception:
            pass
        await asyncio.wait_for(self.ws.wait_closed(), max(0.1, deadline - loop.time()))
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        await self.ws.close()


def of_type(msgs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in msgs if m.get("type") == kind]
