"""The two-person rule on the console's item page (issue 20): it lists the contributors of the
current version and offers no 批准 button or override form to one of them; the server refuses
anyway, in Chinese."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemPatch
from bot.models import Finding, Item
from tests.conftest import Staff
from tests.web.console.test_auth import csrf_of, in_review, login
from tests.web.console.test_pages import post_form

Client = TestClient[web.Request, web.Application]


async def test_a_contributor_sees_who_wrote_the_version_and_no_approve_or_override_form(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    # A signing date in the future: a warning a reviewer could accept in writing.
    item = await in_review(cconfig, cstaff, body="活动安排如下。\n\n办公室\n\n2099年1月1日")
    patch = ItemPatch.model_validate({"summary": "政务公开日活动安排"})
    await lifecycle.edit_item(item.id, patch, cstaff.editor2, cconfig)  # carol edits it
    await lifecycle.submit(item.id, cstaff.editor, cconfig)
    warn = await Finding.get(item_id=item.id, item_version=1, stage="submit", severity="warn")
    approve_form = f'action="/console/items/{item.id}/approve"'
    override_form = f'action="/console/findings/{warn.id}/override"'

    token = await login(cclient, "carol", "Pw-charlie-2026")
    page = await (await cclient.get(f"/console/items/{item.id}")).text()
    assert "本版本参与人：alice（撰写）、carol（修改）" in page
    assert "两人审核规则" in page
    assert approve_form not in page and override_form not in page
    refused = await post_form(cclient, f"/console/items/{item.id}/approve", token)
    assert "两人审核规则：您参与了《" in refused
    assert (await Item.get(id=item.id)).status == "in_review"
    await cclient.post("/console/logout", data={"_csrf": token})

    await login(cclient, "bob", "Pw-bravo-2026")
    page = await (await cclient.get(f"/console/items/{item.id}")).text()
    assert "本版本参与人：alice（撰写）、carol（修改）" in page
    assert override_form in page and "两人审核规则" not in page
    # The warning first: no 批准 button that would be refused, a link to what is left.
    assert approve_form not in page and "批准前须确认 1 条预审提示" in page
    token = csrf_of(page)
    page = await post_form(
        cclient, f"/console/findings/{warn.id}/override", token, reason="日期经核实无误"
    )
    assert approve_form in page
