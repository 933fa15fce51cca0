"""The database the command-line tests' `cli` fixture (tests/cli/test_main.py) starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_main import Cli, write_config


@pytest.fixture(scope="session")
def cli_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated and given alice (editor), bob (reviewer) and carol (editor and
    reviewer) through the command line itself, once per run: each test gets a copy (doing it
    again for every test would cost a few seconds each)."""
    tmp = tmp_path_factory.mktemp("cli-template")
    db_file = tmp / "data" / "gongkai.db"
    made = Cli(tmp, write_config(tmp / "config.toml", db_file), db_file)
    assert "models.0001_initial" in made.run("db", "upgrade").output
    made.run("user", "add", "alice", "--role", "editor", "--office", "办公室")
    made.run("user", "add", "bob", "--role", "reviewer", "--name", "鲍勃")
    made.run("user", "add", "carol", "--role", "editor", "--role", "reviewer")
    return made.db_file
