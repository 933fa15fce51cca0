"""The two-person rule by version through the JSON API, over a real aiohttp server on 127.0.0.1
and a real SQLite database (issue 20): a reviewer who edited someone else's item, or an admin,
cannot approve the version they wrote or accept its findings; one who never touched it can."""

from __future__ import annotations

from typing import Any

from bot.config import Config
from bot.models import Finding, Item
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from tests.web.api import test_routes as test_api
from tests.web.api.test_routes import Client, Tokens, auth, counts, error_of, in_review

# The fixtures of test_routes.py, used here too.
tokens = test_api.tokens
api = test_api.api


async def edit(api: Client, token: str, item_id: int, **fields: Any) -> dict[str, Any]:
    resp = await api.patch(f"/api/v1/items/{item_id}", json=fields, headers=auth(token))
    assert resp.status == 200, await resp.text()
    item: dict[str, Any] = (await resp.json())["item"]
    return item


async def submit(api: Client, token: str, item_id: int) -> None:
    resp = await api.post(f"/api/v1/items/{item_id}/submit", headers=auth(token))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["item"]["status"] == "in_review"


async def refused(api: Client, token: str, url: str, **body: Any) -> dict[str, Any]:
    """POST that the two-person rule refuses: 403, its code, a Chinese message, nothing written."""
    before = await counts()
    resp = await api.post(url, json=body or None, headers=auth(token))
    error = error_of(await resp.json())
    assert resp.status == 403, error
    assert error["code"] == "two_person_rule"
    assert error["message"].startswith("两人审核规则：您参与了《")
    assert await counts() == before
    return error


async def test_a_reviewer_who_patched_and_resubmitted_someone_elses_item_cannot_approve_it(
    api: Client, tokens: Tokens
) -> None:
    item_id = await in_review(api, tokens.editor)  # alice writes and submits it
    # carol (editor and reviewer) rewrites it, submits it again and approves her own text
    await edit(api, tokens.editor2, item_id, body="各处室：\n\n请于本周五前报送工作总结。")
    await submit(api, tokens.editor2, item_id)
    url = f"/api/v1/items/{item_id}/approve"
    error = await refused(api, tokens.editor2, url)
    assert "》第 1 版" in error["message"] and "不能批准" in error["message"]
    assert (await Item.get(id=item_id)).status == "in_review"

    resp = await api.post(url, headers=auth(tokens.reviewer))  # bob never touched it
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["item"]["status"] == "approved"


async def test_an_admin_who_patched_the_item_cannot_approve_it(api: Client, tokens: Tokens) -> None:
    item_id = await in_review(api, tokens.editor)
    await edit(api, tokens.admin, item_id, summary="管理员改写的摘要")
    await submit(api, tokens.editor, item_id)  # even with the author submitting it again
    await refused(api, tokens.admin, f"/api/v1/items/{item_id}/approve")
    resp = await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.reviewer))
    assert resp.status == 200, await resp.text()


async def test_whoever_edited_a_published_item_cannot_approve_its_new_version(
    api: Client, tokens: Tokens, config: Config
) -> None:
    item_id = await in_review(api, tokens.editor)
    resp = await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.editor2))
    assert resp.status == 200, await resp.text()  # carol did not write version 1
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
    assert (await Item.get(id=item_id)).status == "published"

    item = await edit(api, tokens.editor2, item_id, summary="第二版摘要")
    assert (item["version"], item["status"]) == (2, "draft")
    await submit(api, tokens.editor, item_id)
    error = await refused(api, tokens.editor2, f"/api/v1/items/{item_id}/approve")
    assert "第 2 版" in error["message"]

    resp = await api.post(f"/api/v1/items/{item_id}/approve", headers=auth(tokens.reviewer))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["item"]["version"] == 2


async def test_a_contributor_cannot_override_the_findings_of_the_version(
    api: Client, tokens: Tokens
) -> None:
    item_id = await in_review(api, tokens.editor, column="policy")  # a column_kind warning
    await edit(api, tokens.editor2, item_id, summary="涉及政策执行安排")
    await submit(api, tokens.editor, item_id)
    warning = await Finding.get(item_id=item_id, stage="submit", rule="required.column_kind")
    url = f"/api/v1/findings/{warning.id}/override"
    reason = {"reason": "该通知涉及政策执行安排，经研究放入政策文件栏目"}

    error = await refused(api, tokens.editor2, url, **reason)
    assert "不能确认其预审提示" in error["message"]
    assert (await Finding.get(id=warning.id)).overridden_at is None

    resp = await api.post(url, json=reason, headers=auth(tokens.reviewer))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["finding"]["overridden_by"] == "user:bob"
