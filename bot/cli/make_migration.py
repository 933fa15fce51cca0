"""Write a new migration file after a model change: `make migrations NAME=add_something`.

Runs tortoise's native autodetector against the models and the migrations already in
bot/migrations/; review the generated file before committing it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from bot.config import parse_config
from bot.db import tortoise_config


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "auto"
    with tempfile.TemporaryDirectory() as tmp:
        # The autodetector compares models with the migration files, not with a database;
        # it still wants a connection, so give it a throwaway SQLite file.
        config = tortoise_config(parse_config({"database": {"url": f"sqlite://{tmp}/mk.db"}}))
        module = Path(tmp) / "gk_migration_config.py"
        module.write_text(f"TORTOISE_ORM = {config!r}\n", encoding="utf-8")
        env_path = f"{tmp}:{Path.cwd()}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tortoise",
                "-c",
                "gk_migration_config.TORTOISE_ORM",
                "makemigrations",
                "--name",
                name,
            ],
            check=True,
            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        )


if __name__ == "__main__":
    main()
