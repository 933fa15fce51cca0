"""A sandbox database from before the search index existed: its published demo items are
indexed when the sandbox starts again (demo.seed), so the site's search finds them."""

from __future__ import annotations

from bot.config import Config
from bot.models import SearchDoc
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.sandbox import demo
from bot.search.engine import Filters
from bot.search.find import search
from bot.search.query import parse


async def test_a_restart_indexes_what_was_published_before_the_index(config: Config) -> None:
    await demo.seed(config)
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
    assert (await search(parse("政务公开", 100), Filters())).total > 0
    await SearchDoc.all().delete()  # as if published before migration 0013
    assert (await search(parse("政务公开", 100), Filters())).total == 0
    await demo.seed(config)  # the sandbox starting again
    assert (await search(parse("政务公开", 100), Filters())).total > 0
