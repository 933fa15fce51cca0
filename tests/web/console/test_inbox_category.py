"""The console's category form (bot/web/console/inbox_actions.py): a prediction the model was
not sure of shows 待确认 in the list and on the comment's page; a moderator confirms or corrects
it there, the mark goes, the clock follows the category and the decision is kept as a label."""

from __future__ import annotations

from bot.config import Config
from bot.models import AuditEvent, CategoryLabel, Comment
from tests.web.console.test_auth import login
from tests.web.console.test_inbox import Client, get_ok, ingest, post


async def test_an_unsure_category_is_shown_and_corrected_into_a_label(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig, "我们的问题反映了好几年，要求领导接访")
    await Comment.filter(id=comment.id).update(
        category="信访类", flags=["category_unsure"], status="open"
    )
    token = await login(cclient, "mod", "Pw-mike-2026")
    listed = await get_ok(cclient, "/console/inbox?status=open")
    assert "待确认" in listed
    path = f"/console/inbox/{comment.id}"
    page = await get_ok(cclient, path)
    assert "待确认" in page and "确认分类" in page and 'action="' + path + '/category"' in page

    _, page = await post(cclient, f"{path}/category", token, category="投诉")
    assert "分类已改为「投诉」" in page
    c = await Comment.get(id=comment.id)
    assert c.category == "投诉" and "category_unsure" not in c.flags and c.due_at is not None
    label = await CategoryLabel.get(comment_id=comment.id)
    assert (label.category, label.labelled_by) == ("投诉", "user:mod")
    assert await AuditEvent.filter(action="comment.categorize").exists()
    page = await get_ok(cclient, path)
    assert "待确认" not in page and "修改分类" in page

    _, page = await post(cclient, f"{path}/category", token, category="不存在")
    assert "类别「不存在」无效" in page
