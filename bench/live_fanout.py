"""Live room fan-out: real WebSocket clients in separate processes against real servers.

    .venv/bin/python bench/live_fanout.py                       # 1,000 viewers × 50/200/500 c/s
    .venv/bin/python bench/live_fanout.py --viewers 1000,5000,10000 --seconds 15
    .venv/bin/python bench/live_fanout.py --setups hub1,hub2,naive  # + 2 hub processes on Redis

One room. `--workers` client processes each hold a share of the viewers on raw asyncio sockets
(handshake and frame parsing by hand: a full client library per socket would measure the
clients, not the server). Comments come from min(rate, viewers) viewers, each sending one per
second (the room's per-viewer limit), stamped with the send time; probe viewers (1 in 25)
decode every frame and record send→receipt latency of every comment. Every viewer counts
frames and messages.

Printed per configuration: frames/s and messages/s delivered (all viewers), p50/p99 latency,
server CPU (% of one core, over the measured window), memory per idle connection (server RSS
growth / connections, after every viewer joined and before comments start).

The hub runs with comment sampling off (every comment to every viewer) so that it is compared
on equal terms with the naive baseline: the same Uvicorn, a Starlette socket that awaits one
`send_text` per viewer per message. In production the room samples comments to ~15/s per
viewer, so its real load per viewer is lower than measured here.

The machine this was written on has 2 cores shared with the clients; figures from it are a
floor. File descriptors: the soft limit is raised to the hard limit; viewers beyond what it
allows are refused with a message.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

SECRET = "bench-secret-key"
PROBE_EVERY = 25
SAMPLED = False  # --sampled: the hub shows ~15 comments/s per room, as in production
REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seed(url: str) -> tuple[int, int]:
    import datetime as dt

    from liveloop.core.database import Database, utcnow
    from liveloop.core.logging import configure_logging
    from liveloop.live import service as live_service
    from liveloop.live.schemas import LiveSessionCreate
    from liveloop.models import Base
    from liveloop.shops import service as shops_service
    from liveloop.shops.service import system_actor

    configure_logging("warning", json=False)
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.unit_of_work() as session:
        shop = await shops_service.create_shop(session=session, name="压测小铺")
        actor = system_actor(shop.id, label="bench")
        room = await live_service.create_live_session(
            session=session,
            actor=actor,
            data=LiveSessionCreate(
                title="压测直播", planned_start=utcnow() + dt.timedelta(hours=1)
            ),
        )
        await live_service.start_live_session(session=session, actor=actor, live_session_id=room.id)
        ids = (shop.id, room.id)
    await database.dispose()
    return ids


HUB_SERVER = """
import sys, uvicorn
import liveloop.live.room as room
if sys.argv[3] == "unsampled":
    room.DISPLAY_RATE = 1e9  # every comment to every viewer: compared with the naive baseline
uvicorn.run("liveloop.app:create_app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", ws_ping_interval=None)
"""

NAIVE_SERVER = """
import sys, uvicorn
sys.path.insert(0, sys.argv[2])
uvicorn.run("live_fanout:naive_app", host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", ws_ping_interval=None)
"""


async def naive_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The naive baseline: every message is awaited to every viewer, one `send_text` each."""
    from starlette.websockets import WebSocket, WebSocketDisconnect

    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    viewers: set[WebSocket] = naive_app.__dict__.setdefault("viewers", set())
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    viewers.add(websocket)
    seq = 0
    try:
        while True:
            data = orjson.loads(await websocket.receive_text())
            if data.get("type") == "join":
                await websocket.send_text('{"seq":0,"msgs":[{"type":"joined"}]}')
            if data.get("type") != "comment":
                continue
            seq += 1
            text = orjson.dumps(
                {"seq": seq, "msgs": [{"type": "comment", "text": data["text"]}]}
            ).decode()
            for viewer in list(viewers):
                try:
                    await viewer.send_text(text)
                except Exception:
                    viewers.discard(viewer)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        viewers.discard(websocket)


def start(
    kind: str, port: int, workdir: Path, url: str, redis_url: str = ""
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIVELOOP_VAR_DIR": str(workdir / "var"),
        "LIVELOOP_DATABASE_URL": url,
        "LIVELOOP_SECRET_KEY": SECRET,
        "LIVELOOP_QUEUE_BACKEND": "immediate",
        "LIVELOOP_BUS_BACKEND": "redis" if redis_url else "memory",
        "LIVELOOP_REDIS_URL": redis_url,
        "LIVELOOP_LOG_LEVEL": "warning",
    }
    script = HUB_SERVER if kind == "hub" else NAIVE_SERVER
    mode = "sampled" if SAMPLED else "unsampled"
    args = [sys.executable, "-c", script, str(port), str(Path(__file__).parent), mode]
    log = (workdir / f"{kind}-{port}.log").open("ab")
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"server on {port} exited; see its log")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# ----------------------------------------------------------------------------------- clients


def mask_frame(payload: bytes) -> bytes:
    """A masked client text frame (RFC 6455 §5.3)."""
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, 0x80 | length)
    else:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + masked


class ViewerProtocol(asyncio.Protocol):
    def __init__(self, stats: dict[str, Any], probe: bool, join: bytes, path: str) -> None:
        self.stats, self.probe, self.join, self.path = stats, probe, join, path
        self.buffer = b""
        self.upgraded = False
        self.joined = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.joined.set_exception(RuntimeError(self.buffer[:80].decode(errors="replace")))
                return
            self.buffer = self.buffer[end + 4 :]
            self.upgraded = True
            assert self.transport is not None
            self.transport.write(mask_frame(self.join))
        stats, buffer, offset = self.stats, self.buffer, 0
        while len(buffer) - offset >= 2:
            length, header = buffer[offset + 1] & 0x7F, 2
            if length == 126:
                if len(buffer) - offset < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, offset + 2)
                header = 4
            elif length == 127:
                if len(buffer) - offset < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, offset + 2)
                header = 10
            start = offset + header
            if start + length > len(buffer):
                break
            opcode = buffer[offset] & 0x0F
            payload = buffer[start : start + length]
            offset = start + length
            if opcode != 1:
                continue
            stats["frames"] += 1
            stats["msgs"] += payload.count(b'"type"')
            if not self.joined.done():
                self.joined.set_result(True)
            if self.probe and b'"t:' in payload:
                now = time.time()
                for msg in orjson.loads(payload)["msgs"]:
                    text = msg.get("text", "")
                    if text.startswith("t:"):
                        stats["latencies"].append(now - float(text[2:]))
        self.buffer = buffer[offset:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats["lost"] += 1
        if not self.joined.done():
            self.joined.set_exception(RuntimeError("connection lost before joining"))


def client_worker(
    conn: Any, ports: list[int], room: int, tokens: list[str], senders: int, first: int
) -> None:
    """One client process: holds len(tokens) viewers; the first `senders` of them comment."""
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stats: dict[str, Any] = {"frames": 0, "msgs": 0, "latencies": [], "lost": 0}
        protocols: list[ViewerProtocol] = []
        for index, token in enumerate(tokens):
            join = orjson.dumps({"type": "join", "token": token, "last_seq": None})
            port = ports[(first + index) % len(ports)]
            probe = (first + index) % PROBE_EVERY == 0
            _, protocol = await loop.create_connection(
                lambda join=join, probe=probe: ViewerProtocol(
                    stats, probe, join, f"/ws/live/{room}"
                ),
                "127.0.0.1",
                port,
            )
            protocols.append(protocol)  # type: ignore[arg-type]
        await asyncio.gather(*(p.joined for p in protocols))
        conn.send("joined")
        sending: list[asyncio.Task[None]] = []
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "start":
                stats["latencies"] = []
                sending = [
                    asyncio.create_task(send_comments(p, i / max(senders, 1)))
                    for i, p in enumerate(protocols[:senders])
                ]
            elif command == "mark":
                conn.send((stats["frames"], stats["msgs"], stats["lost"]))
            elif command == "stop":
                for task in sending:
                    task.cancel()
                conn.send(list(stats["latencies"]))
            elif command == "exit":
                for p in protocols:
                    if p.transport is not None:
                        p.transport.abort()
                return

    uvloop.run(main())


async def send_comments(protocol: ViewerProtocol, phase: float) -> None:
    """One comment a second (the room's per-viewer limit), stamped with the send time."""
    await asyncio.sleep(phase)
    assert protocol.transport is not None
    while True:
        text = f"t:{time.time():.6f}"
        protocol.transport.write(mask_frame(orjson.dumps({"type": "comment", "text": text})))
        await asyncio.sleep(1.0)


# ----------------------------------------------------------------------------------- one run


def tokens_for(count: int, shop_id: int, room: int) -> list[str]:
    if count == 0:
        return []
    from liveloop.core.settings import Settings
    from liveloop.live.viewers import ViewerClaims, sign_viewer_token

    settings = Settings(secret_key=SECRET, var_dir=Path(tempfile.gettempdir()))
    return [
        sign_viewer_token(
            settings,
            ViewerClaims(
                shop_id=shop_id,
                live_session_id=room,
                customer_id=None,
                device_id=f"bench-{i}",
                name=f"观众{i}",
            ),
        )
        for i in range(count)
    ]


def run_one(
    *,
    pids: list[int],
    ports: list[int],
    room: int,
    shop_id: int,
    viewers: int,
    rate: int,
    seconds: float,
    workers: int,
) -> dict[str, float]:
    tokens = tokens_for(viewers, shop_id, room)
    senders = min(rate, viewers)
    rss_before = sum(proc_rss(pid) for pid in pids)
    pipes, processes = [], []
    share = -(-viewers // workers)
    for w in range(workers):
        mine = tokens[w * share : (w + 1) * share]
        if not mine:
            continue
        first = w * share
        my_senders = max(0, min(len(mine), senders - first))
        parent, child = mp.Pipe()
        process = mp.Process(
            target=client_worker, args=(child, ports, room, mine, my_senders, first), daemon=True
        )
        process.start()
        pipes.append(parent)
        processes.append(process)
    for pipe in pipes:
        if not pipe.poll(600):
            raise SystemExit("viewers did not all join within 10 minutes")
        pipe.recv()
    time.sleep(2.0)  # let joins settle before measuring idle memory
    rss_idle = sum(proc_rss(pid) for pid in pids)
    for pipe in pipes:
        pipe.send("start")
    time.sleep(3.0)  # warm-up: every sender is in its 1 s cycle
    cpu0 = sum(proc_cpu_seconds(pid) for pid in pids)
    for pipe in pipes:
        pipe.send("mark")
    start_counts = [pipe.recv() for pipe in pipes]
    t0 = time.monotonic()
    time.sleep(seconds)
    for pipe in pipes:
        pipe.send("mark")
    end_counts = [pipe.recv() for pipe in pipes]
    elapsed = time.monotonic() - t0
    cpu1 = sum(proc_cpu_seconds(pid) for pid in pids)
    for pipe in pipes:
        pipe.send("stop")
    latencies = sorted(x for pipe in pipes for x in pipe.recv())
    for pipe in pipes:
        pipe.send("exit")
    for process in processes:
        process.join(30)
    frames = sum(e[0] - s[0] for s, e in zip(start_counts, end_counts, strict=True))
    msgs = sum(e[1] - s[1] for s, e in zip(start_counts, end_counts, strict=True))
    lost = sum(e[2] for e in end_counts)

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
            if latencies
            else float("nan")
        )

    return {
        "frames_s": frames / elapsed,
        "msgs_s": msgs / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "cpu_pct": (cpu1 - cpu0) / elapsed * 100,
        "kb_per_conn": (rss_idle - rss_before) / viewers / 1024,
        "lost": lost,
        "expected_msgs_s": rate * viewers,
    }


def print_row(label: str, viewers: int, rate: int, r: dict[str, float]) -> None:
    print(
        f"{label:<10} {viewers:>7,} {rate:>5} {r['frames_s']:>11,.0f} {r['msgs_s']:>13,.0f} "
        f"{r['expected_msgs_s']:>13,.0f} {r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f} "
        f"{r['cpu_pct']:>6.0f}% {r['kb_per_conn']:>8.1f} {int(r['lost']):>5}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", default="1000")
    parser.add_argument("--rates", default="50,200,500")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 2)))
    parser.add_argument(
        "--setups",
        default="hub1,naive",
        help="hub1 (one hub process), hub2 (two on a private redis-server), naive",
    )
    parser.add_argument(
        "--sampled",
        action="store_true",
        help="keep the room's comment sampling (~15 shown per second), as in production",
    )
    args = parser.parse_args()
    global SAMPLED
    SAMPLED = args.sampled
    viewer_counts = [int(v) for v in args.viewers.split(",")]
    rates = [int(r) for r in args.rates.split(",")]

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    most = max(viewer_counts)
    if most + 1000 > hard:  # the limit is per process: the server holds every viewer's socket
        raise SystemExit(f"{most:,} viewers need ~{most + 1000:,} descriptors; hard limit {hard:,}")

    workdir = Path(tempfile.mkdtemp(prefix="ll-fanout-"))
    print(f"cores {os.cpu_count()}, client processes {args.workers}, window {args.seconds:.0f} s, "
          f"fd limit {hard:,}; logs in {workdir}")  # fmt: skip
    header = (
        f"{'server':<10} {'viewers':>7} {'c/s':>5} {'frames/s':>11} {'msgs/s':>13} "
        f"{'offered':>13} {'p50 ms':>8} {'p99 ms':>8} {'CPU':>7} {'KB/conn':>8} {'lost':>5}"
    )
    print(header)
    results: dict[tuple[str, int, int], dict[str, float]] = {}
    known = {"hub1": ("hub", 1), "hub2": ("hub", 2), "naive": ("naive", 1)}
    setups = [known[name] for name in args.setups.split(",")]
    for kind, count in setups:
        label = f"{kind}×{count}" if kind == "hub" else kind
        for viewers in viewer_counts:
            for rate in rates:
                results[(label, viewers, rate)] = run_setup(
                    kind, count, workdir, viewers, rate, args.seconds, args.workers
                )
                print_row(label, viewers, rate, results[(label, viewers, rate)])
    print()
    for viewers in viewer_counts:
        for rate in rates:
            hub = results.get(("hub×1", viewers, rate))
            naive = results.get(("naive", viewers, rate))
            two = results.get(("hub×2", viewers, rate))
            line = f"{viewers:>7,} viewers {rate:>4} c/s:"
            if hub and naive and naive["msgs_s"]:
                line += f" hub/naive msgs/s {hub['msgs_s'] / naive['msgs_s']:.1f}×;"
            if hub and two and hub["msgs_s"]:
                line += f" 2 processes/1 {two['msgs_s'] / hub['msgs_s']:.2f}×"
            print(line)
    shutil.rmtree(workdir, ignore_errors=True)


def run_setup(
    kind: str, count: int, workdir: Path, viewers: int, rate: int, seconds: float, workers: int
) -> dict[str, float]:
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    url = f"sqlite+aiosqlite:///{run_dir / 'bench.db'}"
    shop_id, room = asyncio.run(seed(url))
    redis_process = None
    redis_url = ""
    if count > 1:
        redis_port = free_port()
        redis_process = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        wait_port(redis_port, redis_process)
    ports = [free_port() for _ in range(count)]
    servers = [start(kind, port, run_dir, url, redis_url) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_port(port, server)
        time.sleep(1.0)
        return run_one(
            pids=[s.pid for s in servers],
            ports=ports,
            room=room,
            shop_id=shop_id,
            viewers=viewers,
            rate=rate,
            seconds=seconds,
            workers=workers,
        )
    finally:
        for server in servers:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:  # the naive server still awaiting its backlog
                server.kill()
                server.wait()
        if redis_process is not None:
            redis_process.terminate()


if __name__ == "__main__":
    main()
