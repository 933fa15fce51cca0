"""A local receiver for the webhook channel: verifies signatures, keeps a ledger of every
request (so tests count duplicates on the receiving side), adds latency and injects faults.

Run alone: python -m channels.sandbox.webhook --port 8091 --latency-ms 20 --secret s
(start_process does that for benchmarks and tests, and waits until it answers).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web


@dataclass
class Ledger:
    received: list[dict[str, Any]] = field(default_factory=list)  # every accepted POST
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)  # statuses to answer the next POSTs with


LEDGER = web.AppKey("ledger", Ledger)


def create_app(secret: str, latency_ms: float = 0) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[LEDGER] = Ledger()

    async def push(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Gongkai-Signature", ""), expected):
            return web.json_response({"error": "bad signature"}, status=401)
        ledger = request.app[LEDGER]
        if ledger.faults:
            status = ledger.faults.pop(0)
            headers = {"Retry-After": "1"} if status == 429 else {}
            return web.json_response({"error": "injected"}, status=status, headers=headers)
        data = json.loads(body)
        key = request.headers.get("Idempotency-Key", "")
        record = {
            "id": f"r{len(ledger.received) + 1}",
            "key": key,
            "url": data.get("url", ""),
            "item_id": data.get("item_id"),
        }
        ledger.received.append(record)
        ledger.by_key.setdefault(key, record)
        if latency_ms:
            # Recorded first, answered late: a slow answer can be lost after the fact.
            await asyncio.sleep(latency_ms / 1000)
        return web.json_response(record, status=201)

    async def lookup(request: web.Request) -> web.Response:
        record = request.app[LEDGER].by_key.get(request.match_info["key"])
        if record is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(record)

    async def delete(request: web.Request) -> web.Response:
        request.app[LEDGER].deleted.append(request.match_info["key"])
        return web.Response(status=204)

    async def ledger_view(request: web.Request) -> web.Response:
        ledger = request.app[LEDGER]
        return web.json_response({"received": ledger.received, "deleted": ledger.deleted})

    async def inject(request: web.Request) -> web.Response:
        request.app[LEDGER].faults.extend(int(s) for s in (await request.json())["statuses"])
        return web.json_response({"queued": len(request.app[LEDGER].faults)})

    app.router.add_post("/push", push)
    app.router.add_get("/push/{key}", lookup)
    app.router.add_delete("/push/{key}", delete)
    app.router.add_get("/_ledger", ledger_view)
    app.router.add_post("/_faults", inject)
    return app


ROOT = Path(__file__).resolve().parents[2]


def start_process(
    port: int,
    latency_ms: float,
    secret: str,
    *,
    output: IO[bytes] | int = subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
    timeout: float = 20,
) -> subprocess.Popen[bytes]:
    """This receiver in its own process on 127.0.0.1:port, returned once its ledger answers.

    Raises RuntimeError, having stopped the process, if it exits or has not answered within
    timeout seconds.
    """
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "channels.sandbox.webhook",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--secret",
            secret,
        ],
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_ledger", timeout=2).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError("the webhook receiver did not start") from None
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--secret", default="sandbox-secret")
    args = parser.parse_args()
    web.run_app(
        create_app(args.secret, args.latency_ms), host=args.host, port=args.port, print=None
    )


if __name__ == "__main__":
    main()
