"""Helpers of the channel tests: a local SMTP server (aiosmtpd) and a local HTTP receiver."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.outreach.channels import service
from liveloop.outreach.channels.wecom import clear_token_cache


async def make_channels_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """One channel in this shop (for the shop isolation test)."""
    channel = await service.create_channel(
        session=session,
        shop_id=shop_id,
        kind="email",
        name="隔壁邮件",
        config={"transport": "mailbox", "from_addr": "shop@example.com"},
    )
    return {"outreach_channel_id": channel.id}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SmtpBox:
    """What the local SMTP server received; addresses in `refuse` get that reply."""

    messages: list[Any] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        # aiosmtpd handler hook (its name is fixed by aiosmtpd).
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpBox, int]]:
    from aiosmtpd.controller import Controller

    box = SmtpBox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Receiver:
    """A real local HTTP server: records each request, answers from `replies` (then 200)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                status, headers, text = state.replies.pop(0) if state.replies else (200, {}, "ok")
            payload = text.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _fresh_wecom_tokens() -> Iterator[None]:
    clear_token_cache()
    yield
    clear_token_cache()


def json_body(request: Any) -> Any:
    return json.loads(request.content if hasattr(request, "content") else request["body"])
