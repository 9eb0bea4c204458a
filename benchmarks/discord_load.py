"""Load test: N concurrent /ask interactions through the Discord API double, on loopback.

Reports, for the real bot: time from dispatch to the interaction callback (Discord's 3 s
deadline) and to the final answer, the longest event-loop stall seen by a 5 ms ticker, and
the longest gap between gateway heartbeats. Run from the repository root:

    python benchmarks/discord_load.py [--n 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from bot.chat.client import VerbatimBot
from bot.config import DiscordConfig
from bot.core.answers import Answerer
from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.index import SearchIndex
from tests.chat.discord_double import DoubleThread

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


async def one_round(n: int, answerer: Answerer) -> dict[str, float]:
    side = DoubleThread(heartbeat_interval_ms=250)
    double = side.double
    try:
        bot = VerbatimBot(DiscordConfig(cooldown_seconds=0), lambda gid: answerer)
        bot._connection.guild_ready_timeout = 0.05
        task = asyncio.create_task(bot.start("test-token"))
        while not bot.is_ready():
            await asyncio.sleep(0.01)
        stop = asyncio.Event()
        monitor = asyncio.create_task(stall_monitor(stop))
        await asyncio.sleep(0.6)
        interactions = [
            double.make_slash_interaction("ask", {"question": QUESTIONS[i % len(QUESTIONS)]})
            for i in range(n)
        ]
        beats_before = len(double.heartbeats)
        tokens = {i["token"] for i in interactions}

        async def dispatch_all() -> None:
            for i in interactions:
                await double.dispatch("INTERACTION_CREATE", i)

        t0 = time.perf_counter()
        await side.acall(dispatch_all())
        edits = await side.acall(
            double.wait_for_requests(
                n,
                lambda r: r.params.get("token") in tokens,
                method="PATCH",
                path=r"/webhooks/\d+/[^/]+/messages/@original",
                timeout=60,
            )
        )
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.6)  # a few more heartbeats
        stop.set()
        stall = await monitor
        records = [double.interactions[int(i["id"])] for i in interactions]
        acks = [(r.responded_at or 0) - r.dispatched_at for r in records]
        done = {r.params["token"]: r.timestamp for r in edits}
        answers = [done[r.token] - r.dispatched_at for r in records]
        beats = [h.received_at for h in double.heartbeats[beats_before:]]
        gaps = [b - a for a, b in itertools.pairwise(beats)] or [0.0]
        failed = [r for r in double.requests if r.status >= 400]
        await bot.close()
        await task
    finally:
        side.close()
    return {
        "ack_p50": statistics.median(acks),
        "ack_p99": pct(acks, 0.99),
        "ack_max": max(acks),
        "answer_p50": statistics.median(answers),
        "answer_p99": pct(answers, 0.99),
        "wall": wall,
        "stall": stall,
        "heartbeat_gap": max(gaps),
        "late": sum(a > 3.0 for a in acks),
        "errors": len(failed),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500, help="concurrent interactions")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    index = SearchIndex.build(load_folder(default_corpus_dir()).documents)
    answerer = Answerer(index)
    print(f"{args.n} concurrent /ask interactions, {args.rounds} rounds, default corpus\n")
    print(
        "| round | ack p50 ms | ack p99 ms | ack max ms | answer p50 ms | answer p99 ms "
        "| all answered s | max loop stall ms | max heartbeat gap ms | >3 s | HTTP errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in range(1, args.rounds + 1):
        r = await one_round(args.n, answerer)
        ms = {k: v * 1000 for k, v in r.items()}
        print(
            f"| {n} | {ms['ack_p50']:.0f} | {ms['ack_p99']:.0f} | {ms['ack_max']:.0f} "
            f"| {ms['answer_p50']:.0f} | {ms['answer_p99']:.0f} | {r['wall']:.2f} "
            f"| {ms['stall']:.0f} | {ms['heartbeat_gap']:.0f} | {r['late']:.0f} "
            f"| {r['errors']:.0f} |"
        )
    print(
        "\n(heartbeat interval 250 ms; the double runs in this process on its own thread and "
        "event loop, sharing the GIL)"
    )


if __name__ == "__main__":
    asyncio.run(main())
