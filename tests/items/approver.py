"""A process of its own that approves items as bob, for the 索引号 concurrency test
(tests/items/test_disclosure_metadata.py): it connects, prints "ready", waits for a line on
stdin (so both processes start at once), approves the items named on its command line several
at a time, and prints what it approved as one JSON line.

    python -m tests.items.approver CONFIG_FILE ITEM_ID…
"""

from __future__ import annotations

import asyncio
import json
import sys

from bot import db, users
from bot.config import load_config
from bot.items import lifecycle

AT_ONCE = 8  # approvals in flight in this process


async def main(config_file: str, item_ids: list[int]) -> None:
    config = load_config(config_file)
    await db.init(config)
    try:
        actor = await users.actor_for_user("bob")
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        gate = asyncio.Semaphore(AT_ONCE)
        approved: list[int] = []
        refused: list[int] = []

        async def one(item_id: int) -> None:
            async with gate:
                try:
                    await lifecycle.approve(item_id, actor, config)
                except lifecycle.IllegalTransition:  # the other process approved it first
                    refused.append(item_id)
                else:
                    approved.append(item_id)

        await asyncio.gather(*(one(i) for i in item_ids))
        print(json.dumps({"approved": approved, "refused": refused}), flush=True)
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], [int(a) for a in sys.argv[2:]]))
