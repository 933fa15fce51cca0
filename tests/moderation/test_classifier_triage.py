"""The category model inside triage (moderation/triage.py): it decides the category once set,
a batch at a time; a 信访 keyword still means 信访类; an unsure prediction
is marked 待确认 and gets the strictest clock of its likely categories, never 信访类's lack of
one; without a model the keyword scores decide as before."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from bot.config import InboxConfig, parse_config
from moderation.classifier import Classifier, shipped_corpus
from moderation.deadlines import CHINA
from moderation.triage import UNSURE, Triage, TriageInput

# Tuesday 2025-11-11 10:00 in Shanghai: 2 working days -> Thu 11-13, 5 -> Tue 11-18.
RECEIVED = datetime(2025, 11, 11, 10, tzinfo=CHINA).astimezone(UTC)
DUE_2 = datetime(2025, 11, 13, 17, 30, tzinfo=CHINA).astimezone(UTC)
DUE_5 = datetime(2025, 11, 18, 17, 30, tzinfo=CHINA).astimezone(UTC)


@pytest.fixture(scope="module")
def model() -> Classifier:
    rows = [r for rs in shipped_corpus().values() for r in rs]
    return Classifier.fit([t for t, _ in rows], [c for _, c in rows])


def inbox(toml: str = "") -> InboxConfig:
    return parse_config(tomllib.loads(toml), "test").inbox


def comment(text: str, author: str = "") -> TriageInput:
    return TriageInput(text, "wechat", "message", author, RECEIVED)


def test_the_model_reads_intent_the_keywords_miss(model: Classifier) -> None:
    texts = [
        # A complaint of rhetorical questions: the keywords say 咨询.
        "借款合同写的是年化百分之十，到手少了三千，这不是违法吗？凭什么没人管？",
        # A cry for help worded as a question, about being cheated: the keywords say 投诉.
        "我妈被骗了二十万养老钱，现在公司人去楼空了，我们该怎么办啊？",
    ]
    keywords = Triage(inbox())
    assert [r.category for r in keywords.run_many([comment(t) for t in texts])] != [
        "投诉",
        "求助",
    ]
    triage = Triage(inbox())
    triage.set_classifier(model)
    results = triage.run_many([comment(t) for t in texts])
    assert [r.category for r in results] == ["投诉", "求助"]
    assert all(r.status == "open" and r.due_at == DUE_5 for r in results)


def test_a_batch_gets_what_each_comment_gets_alone(model: Classifier) -> None:
    texts = ["请问典当行年审材料交到哪里？", "感谢你们的耐心解答！", "某小贷公司暴力催收请查处"]
    triage = Triage(inbox())
    triage.set_classifier(model)
    batch = triage.run_many([comment(t) for t in texts])
    assert batch == [triage.run(comment(t)) for t in texts]


def test_a_petition_keyword_still_means_petition(model: Classifier) -> None:
    triage = Triage(inbox())
    triage.set_classifier(model)
    result = triage.run(comment("请问信访事项的复查申请应该交给哪个部门？"))
    assert result.category == "信访类" and result.status == "petition" and result.due_at is None


def test_an_unsure_prediction_is_marked_and_gets_the_strictest_clock(model: Classifier) -> None:
    # Every prediction is unsure (min confidence 1) and every category likely (probability 0):
    # the clock is the shortest of them all, 咨询's 2 working days.
    triage = Triage(
        inbox(
            "[inbox.triage]\ncategory_min_confidence = 1.0\ncategory_likely_probability = 0.0\n"
            '[inbox.deadlines]\ncategory_workdays = { "咨询" = 2, "投诉" = 15 }\n'
        )
    )
    triage.set_classifier(model)
    result = triage.run(comment("某小贷公司暴力催收，天天打电话骚扰我的家人"))
    assert result.category == "投诉"
    assert UNSURE in result.flags
    assert result.due_at == DUE_2


def test_an_unsure_guess_of_petition_keeps_a_reply_clock(model: Classifier) -> None:
    triage = Triage(inbox("[inbox.triage]\ncategory_min_confidence = 1.0\n"))
    triage.set_classifier(model)
    # Petition-like, without a 信访 keyword: the model guesses 信访类, not sure enough.
    result = triage.run(comment("我们的问题反映了好几年都没人解决，要求领导接访，不然就去北京"))
    assert result.category == "信访类"
    assert UNSURE in result.flags and "petition" not in result.flags
    assert result.status == "open" and result.due_at == DUE_5


def test_a_sure_prediction_is_not_marked(model: Classifier) -> None:
    triage = Triage(inbox("[inbox.triage]\ncategory_min_confidence = 0.0\n"))
    triage.set_classifier(model)
    result = triage.run(comment("请问融资担保公司年审材料什么时候交？"))
    assert result.category == "咨询" and UNSURE not in result.flags


def test_without_a_model_the_keyword_scores_decide() -> None:
    triage = Triage(inbox())
    result = triage.run(comment("我要投诉某网贷平台"))
    assert result.category == "投诉" and UNSURE not in result.flags
    triage.set_classifier(None)
    assert triage.run(comment("请问怎么办理？")).category == "咨询"
