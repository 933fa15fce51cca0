"""axe-core (npm, tests/js: installed by make test) run in a page of headless Chromium: the
violations of serious or critical impact, each with its rule, its help text and the elements
it names, so a failing test says what to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


async def violations(page: Page) -> list[str]:
    """The serious and critical violations on the page as it is now. The page's context must
    bypass the site's Content-Security-Policy (no script is allowed on the public site)."""
    assert AXE.exists(), f"{AXE} is missing: run `make test` (npm ci --prefix tests/js)"
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
    )
    found = []
    for v in result["violations"]:
        if v["impact"] in BLOCKING:
            targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            found.append(f"{v['id']} ({v['impact']}): {v['help']} — {targets}")
    return found
