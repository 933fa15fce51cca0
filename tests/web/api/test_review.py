"""Pre-review through the JSON API, over a real aiohttp server on 127.0.0.1 and a real SQLite
database: /review reports findings on the original characters and stores nothing; a reviewer
overrides warnings in writing before approval; 依申请公开 items convert to proactive drafts;
policies carry a validity mark."""

from __future__ import annotations

from typing import Any

from bot.models import AuditEvent, Finding, Item
from tests.web.api import test_routes as test_api
from tests.web.api.test_routes import NOTICE, Client, Tokens, auth, create, error_of, in_review

# The fixtures of test_routes.py, used here too.
tokens = test_api.tokens
api = test_api.api

ZWSP, ZWJ = "\u200b", "\u200d"


def resident_id(first17: str) -> str:
    """A resident ID number with its GB 11643 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


ID_NUMBER = resident_id("31010419850612201")  # 上海徐汇, born 1985-06-12


async def rows() -> tuple[int, int, int]:
    return await Item.all().count(), await Finding.all().count(), await AuditEvent.all().count()


async def review(api: Client, token: str, **fields: Any) -> dict[str, Any]:
    resp = await api.post("/api/v1/review", json={**NOTICE, **fields}, headers=auth(token))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    assert set(body) == {"blocked", "findings"}
    return body


def by_rule(body: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in body["findings"] if f["rule"] == rule]


async def findings_of(api: Client, token: str, item_id: int) -> list[dict[str, Any]]:
    resp = await api.get(f"/api/v1/items/{item_id}", headers=auth(token))
    assert resp.status == 200
    found: list[dict[str, Any]] = (await resp.json())["findings"]
    return found


async def warned_item(api: Client, token: str) -> tuple[int, dict[str, Any]]:
    """A notice filed in the policy column: in review, with one column_kind warning."""
    item_id = await in_review(api, token, column="policy")
    [warning] = [
        f for f in await findings_of(api, token, item_id) if f["rule"] == "required.column_kind"
    ]
    assert warning["severity"] == "warn" and warning["needs_override"]
    return item_id, warning


# ---- POST /review ----------------------------------------------------------------------------


async def test_review_blocks_a_valid_resident_id_with_masked_suggestion_on_its_characters(
    api: Client, tokens: Tokens
) -> None:
    body_text = f"经核实，申请人张某（身份证号{ID_NUMBER}）已按期办结。"
    body = await review(api, tokens.editor, body=body_text)
    assert body["blocked"] is True
    [finding] = by_rule(body, "privacy.resident_id")
    assert finding["severity"] == "block" and finding["overridable"] is False
    assert finding["field"] == "body"
    start, end = finding["span"]
    assert body_text[start:end] == ID_NUMBER
    assert finding["suggestion"] == "310***********2014"
    assert ID_NUMBER not in finding["message"] and "居民身份证号码" in finding["message"]


async def test_review_ignores_an_id_shaped_number_whose_check_digit_is_wrong(
    api: Client, tokens: Tokens
) -> None:
    wrong = ID_NUMBER[:-1] + ("1" if ID_NUMBER[-1] != "1" else "2")
    body = await review(api, tokens.editor, body=f"档案编号{wrong}，请妥善保存。")
    assert by_rule(body, "privacy.resident_id") == []


async def test_review_finds_an_id_number_split_by_zero_width_and_spaces_on_the_original_text(
    api: Client, tokens: Tokens
) -> None:
    hidden = f"{ID_NUMBER[:6]}{ZWSP}{ID_NUMBER[6:14]} {ID_NUMBER[14:]}"
    body_text = f"联系人证件：{hidden}。"
    body = await review(api, tokens.editor, body=body_text)
    [finding] = by_rule(body, "privacy.resident_id")
    start, end = finding["span"]
    assert body_text[start:end] == hidden
    assert finding["suggestion"] == "310***********2014"


async def test_review_blocks_a_sensitive_word_from_the_dictionary(
    api: Client, tokens: Tokens
) -> None:
    body_text = "近期发现有人在办事大厅门口张贴代办假证小广告，请群众提高警惕。"
    body = await review(api, tokens.editor, body=body_text)
    assert body["blocked"] is True
    [finding] = by_rule(body, "wording.sensitive")
    assert finding["severity"] == "block" and not finding["overridable"]
    start, end = finding["span"]
    assert body_text[start:end] == "代办假证"
    assert "代办假证" in finding["message"] and "违法广告" in finding["message"]


async def test_review_sees_through_zero_width_characters_inside_a_sensitive_title(
    api: Client, tokens: Tokens
) -> None:
    evasion = f"代{ZWSP}办{ZWJ}假{ZWSP}证"
    title = f"关于{evasion}的风险提示"
    body = await review(api, tokens.editor, title=title)
    [finding] = by_rule(body, "wording.sensitive")
    assert finding["field"] == "title"
    start, end = finding["span"]
    assert title[start:end] == evasion  # the span covers the original, invisible ones included
    assert body["blocked"] is True


async def test_review_blocks_a_wrong_term_and_suggests_the_standard_form(
    api: Client, tokens: Tokens
) -> None:
    body_text = "根据《中华人民共合国政府信息公开条例》，现将有关事项通知如下。"
    body = await review(api, tokens.editor, body=body_text)
    [finding] = by_rule(body, "wording.wrong_term")
    assert finding["severity"] == "block"
    assert finding["suggestion"] == "中华人民共和国"
    start, end = finding["span"]
    assert body_text[start:end] == "中华人民共合国"
    assert body["blocked"] is True


async def test_review_typo_only_warns_so_the_draft_is_not_blocked(
    api: Client, tokens: Tokens
) -> None:
    body_text = "请使用本人帐号登录办事平台。"
    body = await review(api, tokens.editor, body=body_text)
    [finding] = body["findings"]
    assert finding["rule"] == "wording.typo" and finding["severity"] == "warn"
    assert finding["suggestion"] == "账号"
    start, end = finding["span"]
    assert body_text[start:end] == "帐号"
    assert body["blocked"] is False


async def test_review_of_a_clean_notice_has_no_findings(api: Client, tokens: Tokens) -> None:
    assert await review(api, tokens.editor) == {"blocked": False, "findings": []}


async def test_review_allows_a_correct_term_that_contains_a_listed_word(
    api: Client, tokens: Tokens
) -> None:
    body = await review(api, tokens.editor, body="各单位要加强对口支援交流合作。")
    assert body["findings"] == []


async def test_review_warns_when_the_column_does_not_fit_the_kind(
    api: Client, tokens: Tokens
) -> None:
    body = await review(api, tokens.editor, column="policy")
    [finding] = body["findings"]
    assert (finding["rule"], finding["severity"], finding["field"]) == (
        "required.column_kind",
        "warn",
        "column",
    )
    assert finding["span"] is None and body["blocked"] is False


async def test_review_stores_no_item_finding_or_audit_event(api: Client, tokens: Tokens) -> None:
    before = await rows()
    body = await review(
        api, tokens.editor, column="policy", body=f"身份证号{ID_NUMBER}，代办假证。"
    )
    assert body["blocked"] is True and len(body["findings"]) >= 3
    assert await rows() == before


async def test_review_needs_a_token_and_is_open_to_reviewers_too(
    api: Client, tokens: Tokens
) -> None:
    resp = await api.post("/api/v1/review", json=NOTICE)
    assert resp.status == 401 and error_of(await resp.json())["code"] == "unauthorized"
    await review(api, tokens.reviewer)  # a reviewer may check a draft too


async def test_review_with_an_invalid_body_is_422_naming_the_field(
    api: Client, tokens: Tokens
) -> None:
    before = await rows()
    resp = await api.post(
        "/api/v1/review", json={**NOTICE, "kind": "memo"}, headers=auth(tokens.editor)
    )
    error = error_of(await resp.json())
    assert resp.status == 422
    assert [f["field"] for f in error["fields"]] == ["kind"]
    assert await rows() == before


# ---- approve and override --------------------------------------------------------------------


async def test_approve_is_409_listing_the_warning_until_a_reviewer_overrides_it(
    api: Client, tokens: Tokens
) -> None:
    item_id, warning = await warned_item(api, tokens.editor)
    url = f"/api/v1/items/{item_id}/approve"
    resp = await api.post(url, headers=auth(tokens.reviewer))
    error = error_of(await resp.json())
    assert resp.status == 409
    item = await Item.get(id=item_id)
    assert f"《{item.title}》：{warning['message']}" in error["message"]
    assert item.status == "in_review"

    resp = await api.post(
        f"/api/v1/findings/{warning['id']}/override",
        json={"reason": "该通知涉及政策执行安排，经研究放入政策文件栏目"},
        headers=auth(tokens.reviewer),
    )
    overridden = (await resp.json())["finding"]
    assert resp.status == 200
    assert overridden["overridden_by"] == "user:bob"
    assert overridden["override_reason"] == "该通知涉及政策执行安排，经研究放入政策文件栏目"
    assert overridden["overridden_at"].endswith("Z")
    event = await AuditEvent.filter(action="finding.override").get()
    assert event.details["finding"] == warning["id"] and event.actor == "user:bob"

    resp = await api.post(url, headers=auth(tokens.reviewer))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["item"]["status"] == "approved"


async def test_override_by_an_editor_without_reviewer_role_is_403(
    api: Client, tokens: Tokens
) -> None:
    _, warning = await warned_item(api, tokens.editor2)
    before = await rows()
    resp = await api.post(
        f"/api/v1/findings/{warning['id']}/override",
        json={"reason": "理由"},
        headers=auth(tokens.editor),
    )
    assert resp.status == 403 and error_of(await resp.json())["code"] == "forbidden"
    assert await rows() == before


async def test_override_of_a_finding_on_ones_own_item_is_403(api: Client, tokens: Tokens) -> None:
    _, warning = await warned_item(api, tokens.editor2)  # carol writes it, and can review
    resp = await api.post(
        f"/api/v1/findings/{warning['id']}/override",
        json={"reason": "我认为没有问题"},
        headers=auth(tokens.editor2),
    )
    error = error_of(await resp.json())
    assert resp.status == 403 and "自己" in error["message"]
    assert (await Finding.get(id=warning["id"])).overridden_at is None


async def test_override_with_an_empty_or_blank_reason_is_422(api: Client, tokens: Tokens) -> None:
    _, warning = await warned_item(api, tokens.editor)
    url = f"/api/v1/findings/{warning['id']}/override"
    for reason in ("", "   "):
        resp = await api.post(url, json={"reason": reason}, headers=auth(tokens.reviewer))
        error = error_of(await resp.json())
        assert resp.status == 422, reason
        assert error["fields"][0]["field"] == "reason"
    assert (await Finding.get(id=warning["id"])).overridden_at is None


async def test_override_of_an_unknown_finding_is_404(api: Client, tokens: Tokens) -> None:
    for raw in ("999999", "abc", "99999999999"):
        resp = await api.post(
            f"/api/v1/findings/{raw}/override",
            json={"reason": "理由"},
            headers=auth(tokens.reviewer),
        )
        error = error_of(await resp.json())
        assert resp.status == 404, raw
        assert f"#{raw} 不存在" in error["message"]


async def test_override_of_a_block_that_is_not_overridable_is_403(
    api: Client, tokens: Tokens
) -> None:
    item = await create(api, tokens.editor, body=f"申请人身份证号{ID_NUMBER}。")
    resp = await api.post(f"/api/v1/items/{item['id']}/submit", headers=auth(tokens.editor))
    assert (await resp.json())["item"]["status"] == "returned"
    [block] = [
        f
        for f in await findings_of(api, tokens.editor, item["id"])
        if f["rule"] == "privacy.resident_id" and f["stage"] == "submit"
    ]
    assert block["needs_override"] is False
    resp = await api.post(
        f"/api/v1/findings/{block['id']}/override",
        json={"reason": "当事人同意公开"},
        headers=auth(tokens.reviewer),
    )
    error = error_of(await resp.json())
    assert resp.status == 403 and "不可豁免" in error["message"]
    assert (await Finding.get(id=block["id"])).overridden_at is None


async def test_overriding_the_same_finding_twice_is_refused(api: Client, tokens: Tokens) -> None:
    _, warning = await warned_item(api, tokens.editor)
    url = f"/api/v1/findings/{warning['id']}/override"
    assert (await api.post(url, json={"reason": "一"}, headers=auth(tokens.reviewer))).status == 200
    resp = await api.post(url, json={"reason": "二"}, headers=auth(tokens.reviewer))
    assert resp.status == 409  # a state conflict: it was overridden before
    assert (await Finding.get(id=warning["id"])).override_reason == "一"


async def test_overdue_enforcement_notice_awaits_a_written_override_before_approval(
    api: Client, tokens: Tokens
) -> None:
    enforcement = {
        "authority": "上海市地方金融监督管理局",
        "target": "某小额贷款有限公司",
        "category": "行政处罚",
        "facts": "超出经营区域发放贷款",
        "basis": "《上海市小额贷款公司监管办法》",
        "decision": "警告，并处罚款人民币五万元",
        "decision_date": "2024-03-01",
        "document_number": "沪金管罚〔2024〕1号",
    }
    item_id = await in_review(
        api,
        tokens.editor,
        kind="enforcement",
        title="行政处罚决定公示（沪金管罚〔2024〕1号）",
        body="经查，当事人存在超出经营区域发放贷款的行为。",
        enforcement=enforcement,
    )
    [overdue] = [
        f
        for f in await findings_of(api, tokens.editor, item_id)
        if f["rule"] == "enforcement.overdue"
    ]
    assert overdue["severity"] == "block" and overdue["overridable"] is True
    url = f"/api/v1/items/{item_id}/approve"
    assert (await api.post(url, headers=auth(tokens.reviewer))).status == 409
    for f in await findings_of(api, tokens.editor, item_id):
        if f["needs_override"] and f["stage"] == "submit":
            resp = await api.post(
                f"/api/v1/findings/{f['id']}/override",
                json={"reason": "补录历史执法信息"},
                headers=auth(tokens.reviewer),
            )
            assert resp.status == 200, await resp.text()
    assert (await api.post(url, headers=auth(tokens.reviewer))).status == 200


# ---- convert and validity --------------------------------------------------------------------


async def test_convert_turns_an_on_request_item_into_a_proactive_draft(
    api: Client, tokens: Tokens
) -> None:
    item = await create(api, tokens.editor, disclosure="on_request")
    resp = await api.post(f"/api/v1/items/{item['id']}/convert", headers=auth(tokens.editor))
    converted = (await resp.json())["item"]
    assert resp.status == 200, converted
    assert converted["disclosure"] == "proactive" and converted["status"] == "draft"
    assert (await Item.get(id=item["id"])).disclosure == "proactive"
    assert await AuditEvent.filter(
        action="item.convert_to_proactive", target_id=item["id"]
    ).exists()


async def test_convert_of_a_proactive_item_is_422_and_unknown_item_404(
    api: Client, tokens: Tokens
) -> None:
    item = await create(api, tokens.editor)
    before = await rows()
    resp = await api.post(f"/api/v1/items/{item['id']}/convert", headers=auth(tokens.editor))
    error = error_of(await resp.json())
    assert resp.status == 422 and error["fields"][0]["field"] == "disclosure"
    assert await rows() == before
    resp = await api.post("/api/v1/items/999999/convert", headers=auth(tokens.editor))
    assert resp.status == 404 and error_of(await resp.json())["code"] == "item_not_found"


async def test_validity_marks_a_policy_and_records_the_reason(api: Client, tokens: Tokens) -> None:
    policy = await create(api, tokens.editor, kind="policy", title="上海市政府信息公开规定")
    url = f"/api/v1/items/{policy['id']}/validity"
    resp = await api.post(
        url,
        json={"validity": "repealed", "reason": "已被新规定废止"},
        headers=auth(tokens.reviewer),
    )
    assert resp.status == 200, await resp.text()
    assert (await Item.get(id=policy["id"])).validity == "repealed"
    event = await AuditEvent.filter(action="item.validity").get()
    assert event.details == {"validity": "repealed", "reason": "已被新规定废止"}

    resp = await api.post(url, json={"validity": ""}, headers=auth(tokens.reviewer))
    assert resp.status == 200
    assert (await Item.get(id=policy["id"])).validity == ""


async def test_validity_is_refused_for_non_policies_unknown_values_and_editors(
    api: Client, tokens: Tokens
) -> None:
    notice = await create(api, tokens.editor)
    policy = await create(api, tokens.editor, kind="policy", title="上海市政府信息公开规定")
    before = await rows()
    cases = [
        (notice["id"], {"validity": "expired"}, tokens.reviewer, 422),
        (policy["id"], {"validity": "废止"}, tokens.reviewer, 422),
        (policy["id"], {"validity": "expired"}, tokens.editor, 403),
        (999999, {"validity": "expired"}, tokens.reviewer, 404),
    ]
    for item_id, payload, token, status in cases:
        resp = await api.post(
            f"/api/v1/items/{item_id}/validity", json=payload, headers=auth(token)
        )
        assert resp.status == status, (item_id, payload, await resp.text())
        error_of(await resp.json())
    assert await rows() == before
    assert (await Item.get(id=policy["id"])).validity == ""
