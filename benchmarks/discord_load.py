"""Load test: N concurrent /ask from distinct members while uploads are being parsed, through
the Discord API double on loopback, against the real bot.

Each round starts the bot (default corpus plus server collections in a temporary data
folder), dispatches ``--uploads`` /corpus add interactions (``--upload-chars`` of text each,
spread over four servers), waits until parsers are running, then dispatches ``--n`` /ask
interactions at once, each from a different member. It reports the time from dispatch to the
interaction callback (Discord's deadline is 3 s; the goal is 1 s) and to the final answer
(goal: 3 s), how many uploads were still in progress when the last answer arrived, the
longest event-loop stall seen by a 5 ms ticker, and the longest gap between gateway
heartbeats. The double runs in a process of its own, as Discord does not share the bot's
interpreter (it still shares this machine's CPUs); ``--latency`` adds a delay to each of its
REST replies, as Discord's round trip does. Run from the repository root:

    python benchmarks/discord_load.py [--n 500] [--uploads 8] [--rounds 3] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.chat.client import VerbatimBot
from bot.config import DiscordConfig
from bot.core.answers import AnswerSettings
from bot.core.index import IndexSettings
from bot.core.ingest import IngestLimits
from bot.core.library import CollectionSpec, Library
from bot.store import Store
from tests.chat.discord_double import DiscordDouble, GuildSpec, RecordedRequest, make_user

QUESTIONS = [
    "How many children were exploited in Rotherham?",
    "When was Operation Linden launched?",
    "What did Michael Lockwood say?",
    "Did a police officer call it a fashion accessory?",
    "How many officers were investigated?",
    "What is the capital of France?",
    "Who represents the survivors?",
    "Were victims treated as co-accused?",
]
WORDS = "the keeper logged storms tides lamps ships harbour night".split()


def upload_text(chars: int, seed: int) -> bytes:
    paragraphs, n, size = [], 0, 0
    while size < chars:
        words = " ".join(WORDS[(seed + n + i) % len(WORDS)] for i in range(12))
        paragraphs.append(f"Entry {n}: {words.capitalize()} in {1800 + n % 200}.")
        size += len(paragraphs[-1]) + 2
        n += 1
    return "\n\n".join(paragraphs).encode()[:chars]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def stall_monitor(stop: asyncio.Event, period: float = 0.005) -> float:
    """The longest time the loop took to wake a task that asked to sleep ``period``."""
    worst = 0.0
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(period)
        worst = max(worst, time.perf_counter() - t0 - period)
    return worst


def run_double(conn: Connection, latency: float) -> None:
    """The child process: serve the double until told to stop."""
    asyncio.run(serve_double(conn, latency))


async def serve_double(conn: Connection, latency: float) -> None:
    guilds = [GuildSpec(name=f"S{i}", users=[make_user(f"owner-{i}")]) for i in range(4)]
    loop = asyncio.get_running_loop()
    async with DiscordDouble(heartbeat_interval_ms=250, guilds=guilds, latency=latency) as double:
        conn.send((double.http_url, double.gateway_url))
        while (order := await loop.run_in_executor(None, conn.recv)) is not None:
            n, uploads, upload_chars = order
            conn.send(await drive(double, guilds, n, uploads, upload_chars))


async def drive(
    double: DiscordDouble, guilds: list[GuildSpec], n: int, uploads: int, upload_chars: int
) -> dict[str, Any]:
    """Dispatch the uploads, then the questions, and time what the bot sent back (all on the
    double's clock)."""
    adds = []
    for i in range(uploads):
        guild = guilds[i % len(guilds)]
        attachment = double.add_attachment(f"log-{i}.txt", upload_text(upload_chars, i))
        adds.append(
            double.make_slash_interaction(
                "corpus add",
                [{"name": "file", "type": 11, "value": attachment["id"]}],
                resolved={"attachments": {attachment["id"]: attachment}},
                guild_id=guild.id,
                user=guild.users[0],
            )
        )
    asks = [
        double.make_slash_interaction(
            "ask",
            {"question": QUESTIONS[i % len(QUESTIONS)]},
            guild_id=guilds[i % len(guilds)].id,
            user=make_user(f"member-{i}"),
        )
        for i in range(n)
    ]
    add_tokens = {i["token"] for i in adds}
    ask_tokens = {i["token"] for i in asks}

    t_uploads = time.monotonic()
    for interaction in adds:
        await double.dispatch("INTERACTION_CREATE", interaction)
    await asyncio.sleep(0.5)  # parsers are running
    beats_before = len(double.heartbeats)
    t0 = time.monotonic()
    for interaction in asks:
        await double.dispatch("INTERACTION_CREATE", interaction)

    def final(r: RecordedRequest) -> bool:
        """The answer, or Discord refusing a callback that came too late."""
        if r.params.get("token") not in ask_tokens:
            return False
        late = r.route.endswith("/callback") and r.status >= 400
        return late or (r.method == "PATCH" and r.route.endswith("/@original"))

    finals = await double.wait_for_requests(n, final, timeout=120)
    edits = [r for r in finals if r.method == "PATCH"]
    wall = time.monotonic() - t0
    last_answer = max(r.timestamp for r in edits)
    added = (
        await double.wait_for_requests(
            uploads, lambda r: r.params.get("token") in add_tokens, method="PATCH", timeout=600
        )
        if uploads
        else []
    )
    uploads_wall = time.monotonic() - t_uploads
    records = [double.interactions[int(i["id"])] for i in asks]
    acks = [r.responded_at - r.dispatched_at for r in records if r.responded_at]
    done = {r.params["token"]: r.timestamp for r in edits}
    answers = [done[r.token] - r.dispatched_at for r in records if r.token in done]
    expired = n - len(edits)
    beats = [h.received_at for h in double.heartbeats[beats_before:]]
    gaps = [b - a for a, b in itertools.pairwise(beats)] or [0.0]
    failed = [r for r in double.requests if r.status >= 400]
    not_added = [r for r in added if "Added" not in str(r.json)]
    return {
        "ack_p50": statistics.median(acks),
        "ack_p99": pct(acks, 0.99),
        "ack_max": max(acks),
        "ack_1s": sum(a <= 1.0 for a in acks) / n,
        "answer_p50": statistics.median(answers) if answers else 0.0,
        "answer_p99": pct(answers, 0.99) if answers else 0.0,
        "answer_max": max(answers, default=0.0),
        "answer_3s": sum(a <= 3.0 for a in answers) / n,
        "wall": wall,
        "pending": sum(r.timestamp > last_answer for r in added),
        "uploads_wall": uploads_wall,
        "heartbeat_gap": max(gaps),
        "expired": expired,
        "errors": len(failed) - expired + len(not_added),
        "timeline": [(r.id, r.dispatched_at, r.responded_at, done.get(r.token)) for r in records],
    }


def receive(conn: Connection, child: multiprocessing.process.BaseProcess) -> Any:
    """The double's next message; raises if its process died (it printed why)."""
    while not conn.poll(0.1):
        if not child.is_alive():
            raise RuntimeError("the double's process failed")
    return conn.recv()


async def one_round(n: int, uploads: int, upload_chars: int, latency: float) -> dict[str, Any]:
    """Start the double in its own process and the bot here, and drive one burst."""
    conn, child_conn = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=run_double, args=(child_conn, latency), daemon=True
    )
    child.start()
    http_url, gateway_url = await asyncio.to_thread(receive, conn, child)
    Route.BASE = f"{http_url}/api/v10"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "verbatim.sqlite3")
        library = Library(
            [CollectionSpec(name="default")],
            store,
            IndexSettings(),
            AnswerSettings(),
            limits=IngestLimits(max_bytes=10 * 1024 * 1024),
        )
        await asyncio.to_thread(library.load)
        try:
            config = DiscordConfig(cooldown_seconds=0)
            bot = VerbatimBot(config, library.answerer_for, library=library, store=store)
            bot._connection.guild_ready_timeout = 0.05
            task = asyncio.create_task(bot.start("test-token"))
            while not bot.is_ready():
                await asyncio.sleep(0.01)
            stop = asyncio.Event()
            monitor = asyncio.create_task(stall_monitor(stop))
            await asyncio.sleep(0.6)
            cpu = time.process_time()
            conn.send((n, uploads, upload_chars))
            result: dict[str, Any] = await asyncio.to_thread(receive, conn, child)
            result["cpu"] = time.process_time() - cpu
            stop.set()
            result["stall"] = await monitor
            await bot.close()
            await task
        finally:
            store.close()
            conn.send(None)
            await asyncio.to_thread(child.join, 10)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500, help="concurrent /ask, distinct members")
    parser.add_argument("--uploads", type=int, default=8, help="uploads parsed meanwhile")
    parser.add_argument("--upload-chars", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the double adds to each REST reply"
    )
    args = parser.parse_args()
    print(
        f"{args.n} concurrent /ask (distinct members, 4 servers) while {args.uploads} uploads "
        f"of {args.upload_chars:,} characters are parsed; default corpus; "
        f"{args.rounds} rounds\n"
    )
    print(
        "| round | ack p50 ms | ack p99 ms | ack max ms | answer p50 ms | answer p99 ms "
        "| answer max ms | acked ≤1 s | answered ≤3 s | expired (>3 s) "
        "| uploads still parsing at last answer | all uploads done s "
        "| max loop stall ms | max heartbeat gap ms | errors | bot CPU s | machine load (1 min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in range(1, args.rounds + 1):
        r = await one_round(args.n, args.uploads, args.upload_chars, args.latency)
        ms = {k: v * 1000 for k, v in r.items() if k != "timeline"}
        print(
            f"| {n} | {ms['ack_p50']:.0f} | {ms['ack_p99']:.0f} | {ms['ack_max']:.0f} "
            f"| {ms['answer_p50']:.0f} | {ms['answer_p99']:.0f} | {ms['answer_max']:.0f} "
            f"| {r['ack_1s']:.0%} | {r['answer_3s']:.0%} | {r['expired']:.0f} "
            f"| {r['pending']:.0f} of {args.uploads} | {r['uploads_wall']:.1f} "
            f"| {ms['stall']:.0f} | {ms['heartbeat_gap']:.0f} | {r['errors']:.0f} | {r['cpu']:.1f} "
            f"| {os.getloadavg()[0]:.1f} |"
        )
    print(
        "\n(goals: every ack within 1,000 ms, every answer within 3,000 ms; heartbeat "
        "interval 250 ms; upload_workers 2, search_threads 2, http_connections 64 "
        "(acknowledgements: a pool of their own); "
        f"double's REST latency {args.latency * 1000:.0f} ms; {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    asyncio.run(main())
