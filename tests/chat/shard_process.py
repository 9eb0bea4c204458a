"""One bot process for the end-to-end shard tests: the real VerbatimBot, its own store and
library, pointed at the Discord API double running in the test process.

    python -m tests.chat.shard_process HTTP GATEWAY DATABASE_URL CACHE_DIR [--stall-commit]

Prints "ready" once connected. With --stall-commit, the first audited change stalls inside
its transaction (after the document and audit rows are written, before COMMIT) and prints
"committing", so a test can kill the process there.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.chat.client import VerbatimBot
from bot.config import DiscordConfig
from bot.core.answers import AnswerSettings
from bot.core.index import IndexSettings
from bot.core.library import CollectionSpec, Library
from bot.store import Store


def main() -> None:
    http_url, gateway_url, database_url, cache_dir = sys.argv[1:5]
    Route.BASE = f"{http_url}/api/v10"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    if "--stall-commit" in sys.argv:
        import bot.store.store as module

        real = module.insert_audit

        def stall(*args, **kwargs):  # type: ignore[no-untyped-def]
            entry = real(*args, **kwargs)
            print("committing", flush=True)
            time.sleep(120)
            return entry

        module.insert_audit = stall
    store = Store(database_url)
    library = Library(
        [CollectionSpec(name="default")],
        store,
        IndexSettings(),
        AnswerSettings(),
        cache_dir=Path(cache_dir),
    )
    library.load()
    # follow_changes_seconds is the SQLite poll: with PostgreSQL changes are announced
    config = DiscordConfig(cooldown_seconds=0, follow_changes_seconds=3600)
    bot = VerbatimBot(config, library.answerer_for, library=library, store=store)
    bot._connection.guild_ready_timeout = 0.05

    async def ready() -> None:
        print("ready", flush=True)

    bot.add_listener(ready, "on_ready")
    asyncio.run(bot.start("test-token"))


if __name__ == "__main__":
    main()
