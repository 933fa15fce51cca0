"""Starting Gongkai as its own process in a test, as an operator would (`gongkai --config F
run …`), its output in a log file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import AUDIT_KEY

ROOT = Path(__file__).resolve().parents[1]


async def gongkai(config_file: Path, log: Path, *args: str) -> asyncio.subprocess.Process:
    """`gongkai --config config_file <args>` started from the repository root."""
    with log.open("wb") as out:  # the child writes to its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli.main",
            "--config",
            str(config_file),
            *args,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "GONGKAI_AUDIT_KEY": AUDIT_KEY},
        )
