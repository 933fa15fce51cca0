"""`gongkai triage …` and `gongkai inbox categorize` through click's CliRunner against a real
SQLite file: training reports its cross-validation, refuses too few examples with a Chinese
message (exit 4), and holds sources out; evaluate reads a labelled CSV and prints accuracy,
per-category scores and the confusion matrix (exit 0); a CLI correction is a label."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_inbox import Cli as InboxCli

CORPUS = Path(__file__).resolve().parents[2] / "moderation" / "corpus"


class Cli(InboxCli):
    """The inbox tests' command line, its models kept under the test's folder."""

    def __init__(self, tmp: Path, extra: str = "") -> None:
        super().__init__(tmp)
        self.config.write_text(
            f'[database]\nurl = "sqlite://{tmp}/gk.db"\n'
            f'[inbox.classifier]\nmodel_dir = "{tmp}/models"\n{extra}',
            encoding="utf-8",
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = Cli(tmp_path)
    c.run("db", "upgrade")
    return c


def test_train_with_sources_held_out_then_evaluate_them(cli: Cli) -> None:
    trained = cli.json(
        "triage", "train", "--hold-out", "hotline_orders", "--hold-out", "mailbox_letters"
    )
    assert trained["held_out"] == ["hotline_orders", "mailbox_letters"]
    assert "hotline_orders" not in trained["corpus_sources"]
    assert len(trained["sha256"]) == 64 and (cli.tmp / "models" / trained["file"]).exists()
    assert trained["cross_validation"]["examples"] == trained["examples"]

    files = [str(CORPUS / "hotline_orders.csv"), str(CORPUS / "mailbox_letters.csv")]
    report = cli.json("triage", "evaluate", *files)
    assert report["model"] == trained["model"]
    assert report["accuracy"] >= 0.85
    assert report["categories"]["投诉"]["recall"] >= 0.8
    shown = cli.run("triage", "evaluate", *files).output
    assert f"分类模型 #{trained['model']}" in shown
    assert "准确率" in shown and "混淆矩阵" in shown and "召回率" in shown


def test_train_prints_its_cross_validation(cli: Cli) -> None:
    out = cli.run("triage", "train", "--as", "mia").output
    assert "已训练分类模型 #1" in out and "交叉验证" in out and "混淆矩阵" in out


def test_evaluate_without_a_model_measures_the_keywords(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,category\n请问怎么办理？,咨询\n我要投诉某公司,投诉\n", encoding="utf-8")
    report = cli.json("triage", "evaluate", str(path))
    assert report["model"] is None and "关键词评分" in report["classifier"]
    assert report["accuracy"] == 1.0


def test_evaluate_names_the_bad_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("text,category\n请问怎么办理？,咨询\n有人非法集资,举报\n", encoding="utf-8")
    result = cli.run("triage", "evaluate", str(path), code=1)
    assert "bad.csv 第 3 行：类别「举报」无效" in result.output


def test_train_refuses_too_few_examples(tmp_path: Path) -> None:
    cli = Cli(tmp_path, "shipped_corpus = false\n")
    cli.run("db", "upgrade")
    result = cli.run("triage", "train", code=4)
    assert "每个类别至少需要 8 条标注样本" in result.output
    assert "gongkai inbox categorize" in result.output


def test_a_category_set_at_the_command_line_is_a_label(cli: Cli, tmp_path: Path) -> None:
    cli.run("user", "add", "mia", "--role", "moderator")
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "工单编号,受理时间,诉求内容\nGD1,2025-03-03 10:00,你们的网站手机上打不开\n",
        encoding="utf-8",
    )
    cli.run("inbox", "import-hotline", str(orders), "--as", "mia")
    cli.run("inbox", "categorize", "1", "--category", "投诉", "--as", "mia")
    shown = cli.json("inbox", "show", "1")
    assert shown["category"] == "投诉"
    cli.run("inbox", "categorize", "1", "--category", "举报", "--as", "mia", code=2)


def test_commands_that_do_not_classify_never_import_scikit_learn() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from bot.cli.main import main; "
        "CliRunner().invoke(main, ['--help']); "
        "print(sorted(m for m in ('sklearn', 'skops', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
