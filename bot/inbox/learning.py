"""What the category model learns from, and where it is kept: the labels people give (a
moderator's category, a 12345 work order's 诉求类型), training a model on them and the shipped
corpus (moderation/corpus/), its file in [inbox.classifier] model_dir with a CategoryModel row,
and every process following the newest row.

A label is the latest person's decision for a comment (one CategoryLabel row per comment, who
and when; the audit log keeps the earlier ones), with the comment's masked_text: training never
sees personal data. The model code itself (fit, predict, the file format) is
moderation/classifier.py; this module only feeds it and keeps its output.

Following the model. Each process holds its own copy in its Triage (ModelFollower). Every
`reload_seconds` it reads the newest CategoryModel row; when that is not the model it holds, it
reads the file and loads it only if the file's SHA-256 and the installed scikit-learn match the
row (moderation.classifier.Classifier.loads). A file that does not match is refused, never
loaded, with a warning; the process then uses the keyword scores until a newer model arrives.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit
from bot.config import Config
from bot.errors import Refusal
from bot.models import CategoryLabel, CategoryModel
from bot.timeutil import aware_or_none
from moderation.classifier import (
    Classifier,
    ModelRefused,
    Report,
    TooFewExamples,
    cross_validate,
    shipped_corpus,
    sklearn_version,
)
from moderation.triage import Triage

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (step, done, total)
MODERATOR = "moderator"
HOTLINE = "hotline"


class TrainingRefused(Refusal):
    """Training cannot run (too few examples of a category, an unknown source to hold out);
    the message (Chinese) says what to do."""

    status_code = 422
    code = "training_refused"


# -- labels ------------------------------------------------------------------------------------
async def record_label(
    conn: BaseDBAsyncClient,
    comment_id: int,
    text: str,
    category: str,
    source: str,
    actor: str,
    at: datetime | None = None,
) -> None:
    """The comment's label is now `category`, decided by `actor` (replacing an earlier one)."""
    at = at or datetime.now(UTC)
    changed = (
        await CategoryLabel.filter(comment_id=comment_id)
        .using_db(conn)
        .update(text=text, category=category, source=source, labelled_by=actor, labelled_at=at)
    )
    if not changed:
        await CategoryLabel.create(
            using_db=conn,
            comment_id=comment_id,
            text=text,
            category=category,
            source=source,
            labelled_by=actor,
            labelled_at=at,
        )


async def new_labels(rows: Sequence[tuple[int, str, str]], source: str, actor: str) -> None:
    """Labels of comments that have none yet (just stored): (comment id, text, category)."""
    at = datetime.now(UTC)
    await CategoryLabel.bulk_create(
        [
            CategoryLabel(
                comment_id=comment_id,
                text=text,
                category=category,
                source=source,
                labelled_by=actor,
                labelled_at=at,
            )
            for comment_id, text, category in rows
        ],
        batch_size=500,
    )


async def newest_label_at() -> datetime | None:
    row = await CategoryLabel.all().order_by("-labelled_at").first()
    return aware_or_none(row.labelled_at) if row else None


# -- training ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingSet:
    texts: list[str]
    labels: list[str]
    office: list[bool]  # which are the office's own labels (weighed more, remembered)
    office_labels: int  # how many of them are
    corpus_sources: tuple[str, ...]
    labels_through: datetime | None


async def training_set(config: Config, hold_out: Sequence[str] = ()) -> TrainingSet:
    """The office's labels and (unless [inbox.classifier] shipped_corpus is false) the shipped
    corpus without the sources in `hold_out` (kept apart to evaluate on)."""
    texts: list[str] = []
    labels: list[str] = []
    sources: list[str] = []
    if config.inbox.classifier.shipped_corpus or hold_out:
        corpus = shipped_corpus()
        unknown = sorted(set(hold_out) - set(corpus))
        if unknown:
            raise TrainingRefused(
                f"语料中没有来源：{'、'.join(unknown)}；可选：{'、'.join(sorted(corpus))}。"
            )
        if config.inbox.classifier.shipped_corpus:
            for source, rows in corpus.items():
                if source in hold_out:
                    continue
                sources.append(source)
                texts += [t for t, _ in rows]
                labels += [c for _, c in rows]
    office = [False] * len(texts)
    rows = await CategoryLabel.all().order_by("id").values_list("text", "category")
    for text, category in rows:
        texts.append(str(text))
        labels.append(str(category))
        office.append(True)
    return TrainingSet(texts, labels, office, len(rows), tuple(sources), await newest_label_at())


@dataclass(frozen=True)
class Trained:
    model: CategoryModel
    report: Report
    training: TrainingSet


async def train(
    config: Config,
    actor: str,
    *,
    hold_out: Sequence[str] = (),
    progress: Progress | None = None,
) -> Trained:
    """Cross-validate, train on everything, write the file and its row: from the next reload
    every process uses it. TrainingRefused when a category has too few examples."""
    cfg = config.inbox.classifier
    data = await training_set(config, hold_out)

    def work() -> tuple[Report, Classifier, bytes, str]:
        report = cross_validate(
            data.texts,
            data.labels,
            remember=data.office,
            folds=cfg.cv_folds,
            min_examples=cfg.min_examples,
            progress=progress,
        )
        model = Classifier.fit(
            data.texts,
            data.labels,
            remember=data.office,
            min_examples=cfg.min_examples,
            progress=progress,
        )
        return report, model, model.dumps(), sklearn_version()

    try:
        report, _, blob, version = await asyncio.to_thread(work)
    except TooFewExamples as exc:
        raise TrainingRefused(str(exc)) from exc
    digest = _sha256(blob)
    now = datetime.now(UTC)
    name = f"category-{now:%Y%m%dT%H%M%S}-{digest[:12]}.skops"
    await asyncio.to_thread(_write, Path(cfg.model_dir), name, blob)
    details: dict[str, Any] = {
        "cross_validation": report.as_dict(),
        "corpus_sources": list(data.corpus_sources),
        "held_out": list(hold_out),
    }
    async with in_transaction() as conn:
        row = await CategoryModel.create(
            using_db=conn,
            file=name,
            sha256=digest,
            sklearn_version=version,
            examples=len(data.texts),
            labels=data.office_labels,
            labels_through=data.labels_through,
            report=details,
            trained_by=actor,
            trained_at=now,
        )
        await audit.record(
            conn,
            actor,
            "triage.train",
            "category_model",
            row.id,
            {
                "sha256": digest,
                "examples": len(data.texts),
                "labels": data.office_labels,
                "accuracy": round(report.accuracy, 4),
                "held_out": list(hold_out),
            },
        )
    return Trained(row, report, data)


async def labels_since_model() -> bool:
    """Whether labels were added or changed after the newest model learnt (or there are labels
    and no model yet): what the nightly job checks before retraining."""
    newest = await newest_label_at()
    if newest is None:
        return False
    model = await CategoryModel.all().order_by("-id").first()
    if model is None:
        return True
    through = aware_or_none(model.labels_through)
    return through is None or newest > through


def _sha256(blob: bytes) -> str:
    import hashlib

    return hashlib.sha256(blob).hexdigest()


def _write(folder: Path, name: str, blob: bytes) -> None:
    """Written whole or not at all: a reader never sees half a file under the final name."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(blob)
    os.replace(tmp, folder / name)


# -- following the newest model -----------------------------------------------------------------
class ModelFollower:
    """Keeps a Triage on the newest trained model (see the module docstring)."""

    def __init__(self, config: Config, triage: Triage) -> None:
        self.folder = Path(config.inbox.classifier.model_dir)
        self.triage = triage
        self.current: int | None = None  # the CategoryModel row loaded (or refused)
        self.refused: str = ""  # why the current row was refused; "" when loaded

    async def refresh(self) -> str:
        """Load the newest model if it is not the one held; what happened, in a word: "none"
        (no model trained: keyword scores), "same", "loaded" or "refused"."""
        row = await CategoryModel.all().order_by("-id").first()
        if row is None:
            if self.current is not None:
                self.triage.set_classifier(None)
                self.current, self.refused = None, ""
            return "none"
        if row.id == self.current:
            return "refused" if self.refused else "same"
        try:
            classifier = await asyncio.to_thread(self._load, row)
        except ModelRefused as exc:
            self.triage.set_classifier(None)
            self.current, self.refused = row.id, str(exc)
            log.warning(
                "category model #%d (%s) refused, the keyword scores are used until the next "
                "training: %s",
                row.id,
                row.file,
                exc,
            )
            return "refused"
        self.triage.set_classifier(classifier)
        self.current, self.refused = row.id, ""
        log.info("category model #%d loaded (%d examples)", row.id, row.examples)
        return "loaded"

    def _load(self, row: CategoryModel) -> Classifier:
        path = self.folder / Path(row.file).name
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise ModelRefused(f"分类模型文件 {path} 无法读取：{exc.strerror or exc}") from exc
        return Classifier.loads(blob, sha256=row.sha256, library_version=row.sklearn_version)
