"""The category model's labels, training, storage and reload (bot/inbox/learning.py) on a real
SQLite database and model directory: a moderator's correction is a label (who, when, masked
text) that the next training follows; a tampered file, or one written by another
scikit-learn, is refused with a warning and the keyword scores are used; every process picks
up a new model without a restart; the nightly job retrains only when labels arrived; 12345
work orders' 诉求类型 are labels too; training refuses too few examples in Chinese."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import db, users
from bot.actors import Actor
from bot.config import Config
from bot.inbox import learning
from bot.inbox import ops as inbox_ops
from bot.inbox.hotline import import_hotline
from bot.inbox.ingest import Inbox
from bot.inbox.learning import TrainingRefused, train
from bot.models import AuditEvent, CategoryLabel, CategoryModel, Comment
from channels.base import IncomingComment
from moderation.deadlines import CHINA
from moderation.triage import UNSURE
from scheduler.alerts import Alerter
from scheduler.jobs import JobContext, job_specs, run_job
from tests.conftest import add_test_user, make_config

AT = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
DUE_5 = datetime(2025, 3, 10, 17, 30, tzinfo=CHINA).astimezone(UTC)
# What a moderator calls a complaint, and what the model trained on the corpus alone does not.
CORRECTED = "你们公众号的排版能不能改一改，手机上看字太小了"
NEAR = "你们公众号的排版能不能改一改？手机上看字太小了！"


def configure(sqlite_url: str, folder: Path, **classifier: object) -> Config:
    return make_config(
        sqlite_url, inbox={"classifier": {"model_dir": str(folder / "models"), **classifier}}
    )


@pytest.fixture
async def config(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Config]:
    cfg = configure(sqlite_url, tmp_path)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


async def moderator() -> Actor:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test", office="办公室")
    return await users.actor_for_user("mia")


async def ingest(inbox: Inbox, remote_id: str, text: str) -> Comment:
    done = await inbox.ingest(
        IncomingComment(
            channel="wechat",
            remote_id=remote_id,
            text=text,
            received_at=AT,
            kind="message",
            author_ref=f"a:{remote_id}",
        )
    )
    return await Comment.get(id=done.comment.id)


async def test_a_correction_is_a_label_and_the_next_training_follows_it(config: Config) -> None:
    mia = await moderator()
    inbox = Inbox(config)
    await train(config, "mia")
    assert await inbox.refresh_model() == "loaded"
    first = await ingest(inbox, "c1", CORRECTED + "，联系电话13812345678")
    assert first.category != "投诉"

    await inbox_ops.set_category(first.id, mia, category="投诉", config=config)
    label = await CategoryLabel.get(comment_id=first.id)
    assert (label.category, label.source, label.labelled_by) == ("投诉", "moderator", "user:mia")
    assert label.text == first.masked_text and "13812345678" not in label.text
    assert datetime.now(UTC) - label.labelled_at < timedelta(minutes=1)
    event = await AuditEvent.filter(action="comment.categorize").get()
    assert event.actor == "user:mia" and event.details["to"] == "投诉"

    trained = await train(config, "mia")
    assert trained.model.labels == 1 and trained.report.examples == trained.model.examples
    assert await inbox.refresh_model() == "loaded"
    second = await ingest(inbox, "c2", NEAR)
    assert second.category == "投诉" and UNSURE not in second.flags


async def test_a_correction_moves_the_comment_in_and_out_of_the_petition_process(
    config: Config,
) -> None:
    mia = await moderator()
    inbox = Inbox(config)
    c = await ingest(inbox, "p1", "请问典当行年审的材料交到哪里？")
    c = await inbox_ops.set_category(c.id, mia, category="信访类", config=config)
    assert (c.status, c.due_at) == ("petition", None) and "petition" in c.flags
    c = await inbox_ops.set_category(c.id, mia, category="投诉", config=config)
    assert (c.status, c.due_at, c.simple) == ("open", DUE_5, False)
    assert "petition" not in c.flags
    assert await CategoryLabel.filter(comment_id=c.id).count() == 1  # the latest decision
    assert (await CategoryLabel.get(comment_id=c.id)).category == "投诉"
    with pytest.raises(inbox_ops.InvalidInput, match="类别「举报」无效"):
        await inbox_ops.set_category(c.id, mia, category="举报", config=config)


async def test_confirming_an_unsure_category_removes_the_mark(
    sqlite_url: str, tmp_path: Path
) -> None:
    # Every prediction unsure: the comment shows 待确认 until a moderator confirms it.
    cfg = make_config(
        sqlite_url,
        inbox={
            "classifier": {"model_dir": str(tmp_path / "models")},
            "triage": {"category_min_confidence": 1.0},
        },
    )
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    try:
        mia = await moderator()
        await train(cfg, "mia")
        inbox = Inbox(cfg)
        await inbox.refresh_model()
        c = await ingest(inbox, "u1", "某小贷公司天天打电话骚扰我的家人和同事")
        assert UNSURE in c.flags
        c = await inbox_ops.set_category(c.id, mia, category=c.category, config=cfg)
        assert UNSURE not in c.flags
    finally:
        await db.close()


async def test_a_tampered_model_file_is_refused_and_the_keywords_decide(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    trained = await train(config, "mia")
    path = Path(config.inbox.classifier.model_dir) / trained.model.file
    path.write_bytes(path.read_bytes() + b"\0")
    inbox = Inbox(config)
    with caplog.at_level(logging.WARNING, logger="bot.inbox.learning"):
        assert await inbox.refresh_model() == "refused"
    assert any(
        "refused" in r.getMessage() and "校验值不符" in r.getMessage() for r in caplog.records
    )
    assert inbox.triage.classifier is None
    # The keyword scores decide: "投诉" is a keyword, and the rhetorical questions say 咨询.
    c = await ingest(inbox, "k1", "借款合同写的年化百分之十，到手少了三千，这合理吗？凭什么？")
    assert c.category == "咨询"
    assert await inbox.refresh_model() == "refused"  # warned once, not loaded on each check


async def test_a_model_from_another_scikit_learn_is_refused(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    trained = await train(config, "mia")
    await CategoryModel.filter(id=trained.model.id).update(sklearn_version="1.0.2")
    inbox = Inbox(config)
    with caplog.at_level(logging.WARNING, logger="bot.inbox.learning"):
        assert await inbox.refresh_model() == "refused"
    assert any("scikit-learn 1.0.2" in r.getMessage() for r in caplog.records)
    assert inbox.triage.classifier is None
    # The next training replaces it, and every process moves on to that one.
    await train(config, "mia")
    assert await inbox.refresh_model() == "loaded"
    assert inbox.triage.classifier is not None


async def test_every_process_picks_up_a_new_model_without_a_restart(config: Config) -> None:
    web, worker = Inbox(config), Inbox(config)  # as two processes hold them
    assert await web.refresh_model() == "none"
    first = await train(config, "mia")
    assert [await web.refresh_model(), await worker.refresh_model()] == ["loaded", "loaded"]
    assert await web.refresh_model() == "same"
    second = await train(config, "mia")
    assert second.model.id != first.model.id
    assert await worker.refresh_model() == "loaded"
    assert worker.model.current == second.model.id


async def test_the_nightly_job_retrains_only_when_labels_arrived(config: Config) -> None:
    spec = {s.name: s for s in job_specs(config)}["inbox.retrain"]
    ctx = JobContext(config, Inbox(config), {}, Alerter(config, None), "p1")
    night = datetime(2025, 3, 4, 3, 0, tzinfo=CHINA)  # after 02:30
    assert await run_job(spec, ctx, night) == {"skipped": "no new labels"}
    mia = await moderator()
    c = await ingest(ctx.inbox, "n1", "请问小贷公司的年审什么时候开始？")
    await inbox_ops.set_category(c.id, mia, category="咨询", config=config)
    done = await run_job(spec, ctx, night + timedelta(days=1))
    assert done is not None and done["model"] == (await CategoryModel.all().get()).id
    assert ctx.inbox.model.current == done["model"]
    assert await run_job(spec, ctx, night + timedelta(days=2)) == {"skipped": "no new labels"}
    assert await CategoryModel.all().count() == 1


async def test_work_orders_types_are_labels(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "工单编号,受理时间,诉求内容,诉求类型\n"
        "GD1,2025-03-03 10:00,咨询小额贷款公司年审材料,咨询\n"
        "GD2,2025-03-03 11:00,某网贷平台暴力催收，电话13812345678,举报\n"
        "GD3,2025-03-03 12:00,没有类型的工单,\n",
        encoding="utf-8",
    )
    await import_hotline(path, Inbox(config), "user:mia")
    labels = await CategoryLabel.all().order_by("id")
    assert [(lb.category, lb.source, lb.labelled_by) for lb in labels] == [
        ("咨询", "hotline", "user:mia"),
        ("投诉", "hotline", "user:mia"),
    ]
    assert "13812345678" not in labels[1].text
    assert await learning.labels_since_model()


async def test_training_refuses_too_few_examples_in_chinese(
    sqlite_url: str, tmp_path: Path
) -> None:
    cfg = configure(sqlite_url, tmp_path, shipped_corpus=False)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    try:
        with pytest.raises(TrainingRefused, match="每个类别至少需要 8 条标注样本") as caught:
            await train(cfg, "mia")
        assert "「投诉」0 条" in str(caught.value)
        assert await CategoryModel.all().count() == 0
        with pytest.raises(TrainingRefused, match="语料中没有来源：nowhere"):
            await train(cfg, "mia", hold_out=["nowhere"])
    finally:
        await db.close()


async def test_a_work_orders_type_is_no_guess(sqlite_url: str, tmp_path: Path) -> None:
    # Every prediction unsure: only the order without an operator's 诉求类型 stays 待确认.
    cfg = make_config(
        sqlite_url,
        inbox={
            "classifier": {"model_dir": str(tmp_path / "models")},
            "triage": {"category_min_confidence": 1.0},
        },
    )
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    try:
        await train(cfg, "mia")
        inbox = Inbox(cfg)
        await inbox.refresh_model()
        path = tmp_path / "orders.csv"
        path.write_text(
            "工单编号,受理时间,诉求内容,诉求类型\n"
            "GD1,2025-03-03 10:00,某小贷公司暴力催收，天天骚扰家人,投诉\n"
            "GD2,2025-03-03 10:00,某小贷公司暴力催收，天天骚扰家人和同事,\n",
            encoding="utf-8",
        )
        await import_hotline(path, inbox, "user:mia")
        typed = await Comment.get(remote_id="12345:GD1")
        untyped = await Comment.get(remote_id="12345:GD2")
        assert typed.category == "投诉" and UNSURE not in typed.flags and typed.due_at == DUE_5
        assert UNSURE in untyped.flags
    finally:
        await db.close()


async def test_the_nightly_job_replaces_a_refused_model(config: Config) -> None:
    spec = {s.name: s for s in job_specs(config)}["inbox.retrain"]
    ctx = JobContext(config, Inbox(config), {}, Alerter(config, None), "p1")
    first = await train(config, "mia")
    await CategoryModel.filter(id=first.model.id).update(sklearn_version="1.0.2")
    done = await run_job(spec, ctx, datetime(2025, 3, 4, 3, 0, tzinfo=CHINA))
    assert done is not None and done["model"] != first.model.id
    assert ctx.inbox.model.current == done["model"] and not ctx.inbox.model.refused
