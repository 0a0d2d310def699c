"""A simulated demo audience: real WebSocket viewers that make the demo's live room feel alive.

`liveloop run` starts one when the demo shop has a live session (``LIVELOOP_DEMO_AUDIENCE``
viewers, 0 = off). Each simulated viewer does what a person's browser does: asks the public
token route for a guest token, joins ``/ws/live/{id}`` over a real socket, comments in Chinese,
likes in bursts, clicks pushed products, leaves after a while and reconnects when dropped.
Arrivals are a Poisson process and watch times exponential, so the room holds about the
configured size while people come and go.

Extension point: a viewer's behaviour is a list of step functions (``ViewerStep``), each called
once per tick with a ``ViewerContext``; commerce can append a step that buys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
import uvicorn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from liveloop.core.database import Database

log = structlog.get_logger(__name__)

# Close codes after which the room will not take this viewer back (docs/live-protocol.md).
FINAL_CLOSE_CODES = frozenset({4003, 4004, 4008, 4010})
ROOM_GONE_CODES = frozenset({4004, 4010})  # no such room, or it has ended: nobody else comes
AUTH_CLOSE_CODE = 4001

NICKNAMES = [
    "小鹿", "茶茶", "阿青", "暖暖", "米粒", "豆豆", "木子", "橙子", "小雨", "晴天", "可乐", "一一",
    "糖糖", "阿宝", "南风", "栗子", "七七", "小满", "安安", "柚子", "西西", "麦兜", "星星", "芒果",
]  # fmt: skip
PHRASES = [
    "主播好美", "来了来了", "多少钱", "有优惠吗", "已拍", "已拍两件", "这个颜色好看", "求链接",
    "上链接！", "怎么买", "包邮吗", "有赠品吗", "主播声音好好听", "第一次来，关注了", "好看",
    "还有库存吗", "能便宜点吗", "发什么快递", "买过，质量很好", "回购了", "666", "支持主播",
    "今天有抽奖吗", "可以开发票吗", "送人合适吗", "什么时候发货", "已下单，期待", "冲冲冲",
]  # fmt: skip
PRODUCT_PHRASES = [
    "{name}多少钱", "{name}有优惠吗", "{name}还有货吗", "已拍{name}", "{name}好看", "{name}适合送人吗",
    "想要{name}", "{name}能再讲讲吗", "{name}怎么泡", "{name}是新货吗",
]  # fmt: skip
GIFTS = ["rose", "heart", "tea"]


class Dropped(Exception):
    """The server closed the socket while the room was still on: come back later."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


@dataclass
class RoomView:
    """What a simulated viewer knows of the room, kept up to date from the frames it reads."""

    status: str = "live"
    comments_enabled: bool = True
    product: dict[str, Any] | None = None
    lineup: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int | None = None
    # The interaction tools' cards on show (lottery, red_packet, poll, quiz, welfare…).
    cards: dict[str, Any] = field(default_factory=dict)
    # Personal messages for the steps to react to (e.g. lottery_entry), newest last.
    personal: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "snapshot":
            state = message.get("state") or {}
            self.status = state.get("status", self.status)
            self.comments_enabled = bool(state.get("comments_enabled", True))
            self.product = state.get("product")
            self.lineup = state.get("lineup") or self.lineup
            self.cards = dict(state.get("promotions") or {})
        elif "card" in message and isinstance(kind, str):
            self.cards[kind] = message.get("card")
        elif kind == "lottery_entry":
            self.personal = [*self.personal[-9:], message]
        elif kind == "product_push":
            self.product = message.get("product")
        elif kind == "product_unpush":
            if self.product and self.product.get("id") == message.get("product_id"):
                self.product = None
        elif kind == "room_state":
            self.status = message.get("status", self.status)
            self.comments_enabled = bool(message.get("comments_enabled", self.comments_enabled))


@dataclass
class ViewerContext:
    """One simulated viewer as its behaviour steps see it."""

    number: int
    device_id: str
    nickname: str
    rng: random.Random
    room: RoomView
    send: Callable[[dict[str, Any]], Awaitable[None]]
    tick_seconds: float
    base_url: str
    token: str = ""
    clicked: set[int] = field(default_factory=set)
    memory: dict[str, Any] = field(default_factory=dict)  # free space for extra steps
    http: httpx.AsyncClient | None = None
    # Join the room again with `token` (after a phone login made the guest a customer).
    rejoin: Callable[[], Awaitable[None]] | None = None

    def chance(self, per_second: float) -> bool:
        """True with the probability that an event of this rate happens within one tick."""
        return self.rng.random() < per_second * self.tick_seconds


ViewerStep = Callable[[ViewerContext], Awaitable[None]]


@dataclass(frozen=True)
class Rates:
    """Per viewer, per second. At 40 viewers: ~1.6 comments/s and ~3 like bursts/s in the room."""

    comment: float = 1 / 25
    like_burst: float = 1 / 12
    click_pushed: float = 1 / 15
    gift: float = 1 / 400


def comment_text(ctx: ViewerContext) -> str:
    names = [p.get("name", "") for p in ([ctx.room.product] if ctx.room.product else [])]
    names += [p.get("name", "") for p in ctx.room.lineup[:6]]
    names = [name[:12] for name in names if name]
    if names and ctx.rng.random() < 0.35:
        return ctx.rng.choice(PRODUCT_PHRASES).format(name=ctx.rng.choice(names))
    return ctx.rng.choice(PHRASES)


def chat_like_click(rates: Rates = Rates()) -> ViewerStep:
    """The default behaviour: talk, like in bursts, click the pushed product now and then."""

    async def step(ctx: ViewerContext) -> None:
        if ctx.room.status != "live":
            return
        if ctx.room.comments_enabled and ctx.chance(rates.comment):
            await ctx.send(
                {"type": "comment", "text": comment_text(ctx), "client_id": uuid.uuid4().hex}
            )
        if ctx.chance(rates.like_burst):
            # A thumb tapping fast: a few sends of a few taps, as the viewer page batches them.
            for _ in range(ctx.rng.randint(1, 3)):
                await ctx.send({"type": "like", "count": ctx.rng.randint(2, 12)})
                await asyncio.sleep(0.3)
        product = ctx.room.product
        if product and product.get("id") not in ctx.clicked and ctx.chance(rates.click_pushed):
            ctx.clicked.add(int(product["id"]))
            await ctx.send({"type": "product_click", "product_id": int(product["id"])})
        if ctx.chance(rates.gift):
            await ctx.send({"type": "gift", "gift": ctx.rng.choice(GIFTS), "count": 1})

    return step


def default_steps() -> tuple[ViewerStep, ...]:
    """Chat, like and click, and take part in the room's interaction tools."""
    from liveloop.demo import interaction, mic_demo, polls_demo, welfare_demo

    return (
        chat_like_click(),
        *interaction.steps(),
        *polls_demo.steps(),
        *welfare_demo.steps(),
        *mic_demo.steps(),
    )


def websocket_url(base_url: str, live_session_id: int) -> str:
    scheme, _, rest = base_url.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/ws/live/{live_session_id}"


class SimulatedViewer:
    """One viewer: token, socket, behaviour; leaves at its deadline, reconnects when dropped."""

    def __init__(
        self,
        *,
        audience: DemoAudience,
        number: int,
        watch_seconds: float,
    ) -> None:
        self.audience = audience
        rng = random.Random(audience.rng.random())
        self.context = ViewerContext(
            number=number,
            device_id=f"demo-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}",
            nickname=rng.choice(NICKNAMES) + str(rng.randint(1, 99)),
            rng=rng,
            room=RoomView(),
            send=self._send,
            tick_seconds=audience.tick_seconds,
            base_url=audience.base_url,
            http=audience.http,
            rejoin=self._rejoin,
        )
        self.watch_seconds = watch_seconds
        self.socket: ClientConnection | None = None

    async def _send(self, message: dict[str, Any]) -> None:
        if self.socket is not None:
            await self.socket.send(json.dumps(message, ensure_ascii=False))

    async def _rejoin(self) -> None:
        """Close the socket normally; `run` comes back with the context's (new) token."""
        if self.socket is not None:
            await self.socket.close()

    async def _token(self) -> str:
        response = await self.audience.http.post(
            f"{self.audience.base_url}/api/v1/public/live/{self.audience.code}/token",
            json={"device_id": self.context.device_id, "nickname": self.context.nickname},
        )
        response.raise_for_status()
        return str(response.json()["token"])

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        leave_at = loop.time() + self.watch_seconds
        failures = 0
        while loop.time() < leave_at:
            try:
                if not self.context.token:
                    self.context.token = await self._token()
                await self._watch(leave_at)
                return
            except (ConnectionClosed, Dropped) as closed:
                if isinstance(closed, Dropped):
                    code = closed.code
                else:
                    code = closed.rcvd.code if closed.rcvd else None
                if code in ROOM_GONE_CODES:
                    self.audience.room_over = True
                if code in FINAL_CLOSE_CODES:
                    return
                if code == AUTH_CLOSE_CODE:
                    self.context.token = ""
            except (TimeoutError, OSError, InvalidHandshake, httpx.HTTPError) as error:
                log.debug("demo_viewer_retry", viewer=self.context.number, error=repr(error))
            failures += 1
            # Backoff with jitter, as the viewer page does.
            await asyncio.sleep(
                min(30.0, 2 ** min(failures, 5)) * (0.5 + self.context.rng.random() / 2)
            )

    async def _watch(self, leave_at: float) -> None:
        url = websocket_url(self.audience.base_url, self.audience.live_session_id)
        async with connect(url, open_timeout=10, close_timeout=2, max_size=2**22) as socket:
            self.socket = socket
            tasks: list[asyncio.Task[None]] = []
            try:
                join = {
                    "type": "join",
                    "token": self.context.token,
                    "last_seq": self.context.room.last_seq,
                }
                await socket.send(json.dumps(join))
                tasks = [
                    asyncio.create_task(self._read(socket)),
                    asyncio.create_task(self._act(leave_at)),
                ]
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a dropped connection surfaces here as ConnectionClosed
            finally:
                # Also when the demo stops (cancelled): end both halves, then say goodbye
                # with a normal close rather than the 1011 an aborted context would send.
                self.socket = None
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await socket.close()

    async def _read(self, socket: ClientConnection) -> None:
        room = self.context.room
        async for raw in socket:
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            if isinstance(frame.get("seq"), int):
                room.last_seq = frame["seq"]
            for message in frame.get("msgs", []):
                room.apply(message)
            if room.status in ("ended", "cancelled"):
                self.audience.room_over = True
                return
        raise Dropped(socket.close_code)

    async def _act(self, leave_at: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < leave_at:
            await asyncio.sleep(self.context.tick_seconds * (0.5 + self.context.rng.random()))
            for step in self.audience.steps:
                await step(self.context)


class DemoAudience:
    """About `size` simulated viewers in one room, coming and going at plausible rates."""

    def __init__(
        self,
        *,
        base_url: str,
        code: str,
        live_session_id: int,
        size: int,
        mean_watch_seconds: float = 300.0,
        ramp_seconds: float = 20.0,
        tick_seconds: float = 1.0,
        steps: Sequence[ViewerStep] | None = None,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.code = code
        self.live_session_id = live_session_id
        self.size = size
        self.mean_watch_seconds = mean_watch_seconds
        self.ramp_seconds = ramp_seconds
        self.tick_seconds = tick_seconds
        self.steps = list(default_steps() if steps is None else steps)
        self.rng = random.Random(seed)
        self.viewers: set[asyncio.Task[None]] = set()
        self.http = httpx.AsyncClient(timeout=10)
        self._runner: asyncio.Task[None] | None = None
        self._joined = 0
        self.room_over = False  # set by a viewer that saw the room end; arrivals stop

    @property
    def online(self) -> int:
        return len(self.viewers)

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="demo-audience")

    async def stop(self) -> None:
        """Every viewer closes its socket; returns when they all have."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for task in list(self.viewers):
            task.cancel()
        if self.viewers:
            await asyncio.gather(*self.viewers, return_exceptions=True)
        await self.http.aclose()

    def _spawn(self, delay: float = 0.0) -> None:
        self._joined += 1
        watch = self.rng.expovariate(1 / self.mean_watch_seconds)
        viewer = SimulatedViewer(audience=self, number=self._joined, watch_seconds=watch)

        async def arrive() -> None:
            if delay:
                await asyncio.sleep(delay)
            await viewer.run()

        task = asyncio.create_task(arrive(), name=f"demo-viewer-{self._joined}")
        self.viewers.add(task)
        task.add_done_callback(self._left)

    def _left(self, task: asyncio.Task[None]) -> None:
        self.viewers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("demo_viewer_failed", error=repr(task.exception()))

    async def _run(self) -> None:
        if self.size <= 0:
            return
        for _ in range(self.size):  # the first crowd arrives over the ramp
            self._spawn(delay=self.rng.uniform(0, self.ramp_seconds))
        # Then Poisson arrivals at size / mean watch time keep about `size` in the room
        # (Little's law); a cap stops a long unlucky streak from overfilling it.
        rate = self.size / self.mean_watch_seconds
        while not self.room_over:
            await asyncio.sleep(self.rng.expovariate(rate))
            if self.online < self.size * 1.3 and not self.room_over:
                self._spawn()


async def find_demo_room(session: AsyncSession) -> tuple[str, int] | None:
    """(code, id) of the demo shop's live session, if the demo is seeded and one is on air."""
    from liveloop.demo.seed import DEMO_SHOP_NAME
    from liveloop.live import service as live_service
    from liveloop.live.models import LiveStatus
    from liveloop.shops.models import Shop

    shop_id = (
        await session.execute(select(Shop.id).where(Shop.name == DEMO_SHOP_NAME).limit(1))
    ).scalar_one_or_none()
    if shop_id is None:
        return None
    page = await live_service.list_live_sessions(
        session=session, shop_id=shop_id, status=LiveStatus.LIVE, per_page=1
    )
    if not page.items:
        return None
    return page.items[0].code, page.items[0].id


def local_base_url(host: str, port: int) -> str:
    """The server's own URL from inside the process (a wildcard bind is reached on loopback)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def poll_until(condition: Callable[[], bool], *, every: float) -> None:
    """Uvicorn tells "started" and "should exit" by flags, not events: look now and then."""
    while True:
        if condition():
            return
        await asyncio.sleep(every)


async def serve_with_audience(server: uvicorn.Server, *, database: Database, size: int) -> None:
    """Run the server; once it listens, fill the demo room; empty it before the server stops."""
    serving = asyncio.create_task(server.serve())
    await poll_until(lambda: server.started or serving.done(), every=0.1)
    audience = None
    if server.started:
        room = None
        try:
            async with database.sessionmaker() as session:
                room = await find_demo_room(session)
        except Exception as error:  # an old or foreign database: serve without an audience
            log.warning("demo_audience_skipped", error=repr(error))
        if room is not None:
            code, live_session_id = room
            audience = DemoAudience(
                base_url=local_base_url(server.config.host, server.config.port),
                code=code,
                live_session_id=live_session_id,
                size=size,
            )
            audience.start()
            log.info("demo_audience_started", viewers=size, room=code)
    await poll_until(lambda: server.should_exit or serving.done(), every=0.2)
    if audience is not None:
        await audience.stop()
    await serving
