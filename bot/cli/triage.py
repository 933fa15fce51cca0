"""`gongkai triage …`: the category model of comment triage — train it on the office's labels and
the shipped corpus (with its cross-validation), and evaluate the model in use on a labelled CSV
file. scikit-learn is imported only when one of these runs (bot/inbox/learning.py,
moderation/classifier.py), so other commands start as fast as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.base import Refused, as_option, json_option, session
from bot.config import Config

if TYPE_CHECKING:
    from moderation.classifier import Report

# Who trained, when nobody said (--as): the record says it came from the command line.
CLI_ACTOR = "命令行"
STEP_LABELS = {"cv": "交叉验证", "fit": "训练模型"}


@click.group("triage")
def triage_group() -> None:
    """留言分类模型：训练与评估。"""


@triage_group.command("train")
@click.option(
    "--hold-out",
    "hold_out",
    multiple=True,
    metavar="SOURCE",
    help="训练时不用随附语料中的此来源（moderation/corpus/SOURCE.csv），留作评估；可重复",
)
@as_option
@json_option
@click.pass_context
def triage_train(
    ctx: click.Context, hold_out: tuple[str, ...], as_user: str | None, as_json: bool
) -> None:
    """用本单位标注的留言（控制台或命令行修改的分类、12345 工单的诉求类型）和随附语料训练分类模型，
    报告交叉验证结果；训练完成后各进程在下次检查时自动改用新模型。"""
    from rich.progress import Progress

    from bot.inbox.learning import TrainingRefused, train

    who = as_user or ctx.obj.get("as_user") or CLI_ACTOR

    async def work(config: Config) -> None:
        with Progress(disable=as_json, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def progress(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(STEP_LABELS.get(step, step), total=total)
                bar.update(tasks[step], completed=done, total=total)

            try:
                trained = await train(config, who, hold_out=hold_out, progress=progress)
            except TrainingRefused as exc:
                raise Refused(str(exc)) from exc
        row, data = trained.model, trained.training
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "model": row.id,
                        "file": row.file,
                        "sha256": row.sha256,
                        "sklearn_version": row.sklearn_version,
                        "examples": row.examples,
                        "labels": row.labels,
                        "corpus_sources": list(data.corpus_sources),
                        "held_out": list(hold_out),
                        "cross_validation": trained.report.as_dict(),
                    },
                    ensure_ascii=False,
                )
            )
            return
        click.echo(
            f"已训练分类模型 #{row.id}：共 {row.examples} 条样本（本单位标注 {row.labels} 条，"
            f"随附语料 {row.examples - row.labels} 条"
            + (f"，留出 {'、'.join(hold_out)}" if hold_out else "")
            + f"），scikit-learn {row.sklearn_version}，文件 {row.file}。"
        )
        click.echo(f"{trained.report.examples} 条样本的 {_folds(config)} 折交叉验证：")
        show_report(trained.report)

    session(ctx, work)


@triage_group.command("evaluate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@json_option
@click.pass_context
def triage_evaluate(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """用标注好的 CSV 文件（UTF-8，表头 text,category）评估当前使用的分类：准确率、各类别的
    精确率 / 召回率 / F1 和混淆矩阵。未训练模型时评估关键词评分。"""
    from moderation.classifier import CorpusError, evaluate, read_labelled_csv
    from moderation.triage import TriageInput

    rows: list[tuple[str, str]] = []
    for path in files:
        try:
            rows += read_labelled_csv(path.read_bytes(), path.name)
        except CorpusError as exc:
            raise click.ClickException(str(exc)) from exc
    if not rows:
        raise click.ClickException("文件中没有标注好的留言。")

    async def work(config: Config) -> None:
        from bot.inbox.ingest import Inbox

        inbox = Inbox(config)
        state = await inbox.refresh_model()
        now = datetime.now(UTC)
        results = inbox.triage.run_many(
            [TriageInput(text, "evaluate", "message", "", now) for text, _ in rows]
        )
        report = evaluate([c for _, c in rows], [r.category for r in results])
        model = inbox.model
        used = (
            f"分类模型 #{model.current}"
            if state in ("loaded", "same")
            else "关键词评分（尚未训练分类模型）"
            if state == "none"
            else f"关键词评分（分类模型 #{model.current} 被拒绝加载：{model.refused}）"
        )
        if as_json:
            data = {"classifier": used, "model": model.current if state != "none" else None}
            click.echo(json.dumps({**data, **report.as_dict()}, ensure_ascii=False))
            return
        click.echo(f"评估：{'、'.join(p.name for p in files)}，使用{used}。")
        show_report(report)

    session(ctx, work)


def _folds(config: Config) -> int:
    return config.inbox.classifier.cv_folds


def show_report(report: Report) -> None:
    """Accuracy, the per-category table and the confusion matrix, as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"样本 {report.examples} 条，准确率 {report.accuracy:.3f}")
    scores = Table(title="各类别", show_lines=False)
    for column in ("类别", "精确率", "召回率", "F1", "样本数"):
        scores.add_column(column, justify="left" if column == "类别" else "right")
    for category in report.labels:
        s = report.scores[category]
        scores.add_row(
            category, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support)
        )
    console.print(scores)
    matrix = Table(title="混淆矩阵（行：实际类别，列：预测类别）")
    matrix.add_column("实际＼预测")
    for category in report.labels:
        matrix.add_column(category, justify="right")
    for category, row in zip(report.labels, report.confusion, strict=True):
        matrix.add_row(category, *(str(n) for n in row))
    console.print(matrix)


COMMANDS: tuple[click.Command, ...] = (triage_group,)
