"""One decision per package (issue 28, item 4): a policy and its two interpretations are
reviewed on one page — both bodies, every finding with where it is, the override forms — and
approved together; refusals name items by title, never a finding as `#N`."""

from __future__ import annotations

import re

from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Delivery, Finding, Item
from tests.conftest import Staff
from tests.web.console.test_auth import Client, csrf_of, login

POLICY_TITLE = "关于规范地方金融组织经营的若干规定"
READING_1 = "《关于规范地方金融组织经营的若干规定》政策解读"
READING_2 = "一图读懂《关于规范地方金融组织经营的若干规定》"


async def package(config: Config, staff: Staff) -> tuple[Item, Item, Item]:
    """A policy and two interpretations in review; the second filed in the policy column (a
    warning a reviewer must confirm in writing)."""

    async def create(**fields: object) -> Item:
        return await lifecycle.create_item(ItemCreate.model_validate(fields), staff.editor, config)

    policy = await create(
        kind="policy",
        title=POLICY_TITLE,
        body="第一条 为规范地方金融组织经营行为，制定本规定。",
        office="法规处",
        written_on="2026-03-02",
        topic="财政、金融、审计",
    )
    first = await create(
        kind="interpretation",
        title=READING_1,
        body="本规定围绕三个方面明确了监管要求，下面逐一说明其背景与适用范围。",
        related_id=policy.id,
        interpretation_forms=["文字"],
    )
    second = await create(
        kind="interpretation",
        column="policy",
        title=READING_2,
        body="图解：经营范围、风险管理和信息报送三项要求分别适用于不同机构，详见下图说明。",
        related_id=policy.id,
        interpretation_forms=["图解"],
    )
    for item in (first, second, policy):
        await lifecycle.submit(item.id, staff.editor, config)
    return policy, first, second


async def test_a_policy_and_two_interpretations_are_approved_together_on_one_page(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    policy, first, second = await package(cconfig, cstaff)
    await login(cclient, "bob", "Pw-bravo-2026")

    # The interpretation's page leads to the package; so does its refused approval.
    item_page = await (await cclient.get(f"/console/items/{first.id}")).text()
    assert f'href="/console/items/{policy.id}/package"' in item_page
    assert "批准发布</button>" not in item_page

    resp = await cclient.get(f"/console/items/{second.id}/package")
    page = await resp.text()
    assert str(resp.url).endswith(f"/console/items/{policy.id}/package")
    for title in (POLICY_TITLE, READING_1, READING_2):
        assert f"《{title}》" in page
    assert "制定本规定" in page and "分别适用于不同机构" in page  # the bodies
    warning = await Finding.get(item_id=second.id, stage="submit", rule="required.column_kind")
    assert f'id="finding-{warning.id}"' in page and f'href="#item-{second.id}"' in page
    assert "须书面确认后才能批准" in page
    assert "package/approve" not in page  # no button that would be refused

    token = csrf_of(page)
    refused = await cclient.post(
        f"/console/items/{policy.id}/package/approve", data={"_csrf": token}
    )
    text = await refused.text()
    assert f"《{READING_2}》：" in text
    assert re.search(r"#\d", text.split("<main", 1)[1]) is None  # no finding shown as #N
    assert (await Item.get(id=policy.id)).status == "in_review"

    confirmed = await cclient.post(
        f"/console/findings/{warning.id}/override",
        data={
            "_csrf": token,
            "reason": "图解同时放入政策栏目便于查阅，经研究同意",
            "next": f"/console/items/{policy.id}/package#finding-{warning.id}",
        },
    )
    page = await confirmed.text()
    assert str(confirmed.url).endswith(f"/console/items/{policy.id}/package")
    assert "已确认预审提示：" in page and "package/approve" in page

    done = await cclient.post(f"/console/items/{policy.id}/package/approve", data={"_csrf": token})
    assert "及其 2 篇政策解读" in await done.text()
    for item in (policy, first, second):
        assert (await Item.get(id=item.id)).status == "approved"
    due = await Delivery.filter(item_id__in=[policy.id, first.id, second.id]).values_list(
        "due_at", flat=True
    )
    assert len(set(due)) == 1  # 三同步: one moment for all of them


async def test_the_author_sees_the_package_but_no_approval(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    policy, _, _ = await package(cconfig, cstaff)
    await login(cclient, "carol", "Pw-charlie-2026")  # an editor who reviews, not an author
    page = await (await cclient.get(f"/console/items/{policy.id}/package")).text()
    assert "确认此提示的书面理由" in page
    await cclient.post("/console/logout", data={"_csrf": csrf_of(page)})
    await login(cclient, "alice", "Pw-alpha-2026")  # the author, an editor only
    page = await (await cclient.get(f"/console/items/{policy.id}/package")).text()
    assert "确认此提示的书面理由" not in page and "package/approve" not in page
