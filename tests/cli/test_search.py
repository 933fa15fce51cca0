"""`gongkai search reindex` and `gongkai search find` on a real database: the index rebuilt
from what is public, said in Chinese (and as JSON), found as the website finds it."""

from __future__ import annotations

import json

from tests.cli import test_main as test_cli
from tests.cli.test_main import Cli

# The fixtures of test_main.py, used here too.
fresh = test_cli.fresh
cli = test_cli.cli


def test_reindex_on_an_empty_site_says_what_it_did(cli: Cli) -> None:
    out = cli.run("search", "reindex").output
    assert "检索索引已重建：稿件 0 篇" in out
    data = json.loads(cli.run("search", "reindex", "--json").output)
    assert data == {"items": 0, "qa": 0, "faq": 0, "removed": 0}


def test_find_answers_a_hostile_query_with_results_not_an_error(cli: Cli) -> None:
    out = cli.run("search", "find", 'NEAR("担保" *').output
    assert "共 0 条结果" in out
