"""The category classifier (moderation/classifier.py): measured on sources of the shipped corpus
it never saw, a saved model that is tampered with or written by another scikit-learn is refused
before anything is deserialised, training refuses too few examples in Chinese, a remembered
label wins for a near-identical text, and a labelled CSV's errors name the line."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from moderation.classifier import (
    CATEGORIES,
    Classifier,
    CorpusError,
    ModelRefused,
    TooFewExamples,
    cross_validate,
    evaluate,
    read_labelled_csv,
    shipped_corpus,
    sklearn_version,
)

# The general-topic sources (12345 work orders, 市长信箱-style letters), held out from a model
# trained on the others: a different register from the financial regulator's own channels.
HELD_OUT = ("hotline_orders", "mailbox_letters")


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[tuple[str, str]]]:
    return shipped_corpus()


@pytest.fixture(scope="module")
def trained(corpus: dict[str, list[tuple[str, str]]]) -> Classifier:
    rows = [r for source, rs in corpus.items() if source not in HELD_OUT for r in rs]
    return Classifier.fit([t for t, _ in rows], [c for _, c in rows])


def saved(model: Classifier) -> tuple[bytes, str]:
    blob = model.dumps()
    return blob, hashlib.sha256(blob).hexdigest()


def test_the_shipped_corpus_has_every_category_in_several_sources(corpus: dict) -> None:
    assert len(corpus) >= 5
    for category in CATEGORIES:
        sources = [s for s, rows in corpus.items() if any(c == category for _, c in rows)]
        assert len(sources) >= 5, category
    assert set(HELD_OUT) <= set(corpus)


def test_held_out_sources_are_classified_well_enough(
    corpus: dict[str, list[tuple[str, str]]], trained: Classifier
) -> None:
    rows = [r for source in HELD_OUT for r in corpus[source]]
    trained_on = {t for s, rs in corpus.items() if s not in HELD_OUT for t, _ in rs}
    assert not trained_on & {t for t, _ in rows}, "a held-out text is also in the training part"
    report = evaluate(
        [c for _, c in rows], [p.category for p in trained.predict([t for t, _ in rows])]
    )
    assert report.accuracy >= 0.85, report.text()
    assert report.recall("投诉") >= 0.8, report.text()


def test_a_batch_predicts_as_each_text_alone(trained: Classifier) -> None:
    texts = ["请问小额贷款公司的年审什么时候开始？", "某网贷平台暴力催收，请严查！", "谢谢你们"]
    assert trained.predict(texts) == [trained.predict([t])[0] for t in texts]
    for p in trained.predict(texts):
        assert abs(sum(prob for _, prob in p.probabilities) - 1) < 1e-6
        assert p.probabilities[0] == (p.category, p.confidence)


def test_a_saved_model_loads_with_its_hash_and_library_version(trained: Classifier) -> None:
    blob, digest = saved(trained)
    loaded = Classifier.loads(blob, sha256=digest, library_version=sklearn_version())
    texts = ["我被骗了三万块，该怎么办？", "建议增加网上办理渠道"]
    assert loaded.predict(texts) == trained.predict(texts)


def test_a_tampered_model_file_is_refused(trained: Classifier) -> None:
    blob, digest = saved(trained)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ModelRefused, match="校验值不符"):
        Classifier.loads(tampered, sha256=digest, library_version=sklearn_version())


def test_a_model_written_by_another_scikit_learn_is_refused(trained: Classifier) -> None:
    blob, digest = saved(trained)
    with pytest.raises(ModelRefused, match=r"scikit-learn 1\.0\.2"):
        Classifier.loads(blob, sha256=digest, library_version="1.0.2")


class Sneaky:
    """Any type a model file has no business holding."""

    def __init__(self) -> None:
        self.payload = "x"


def test_a_file_holding_an_untrusted_type_is_refused_unloaded() -> None:
    import skops.io as sio

    blob = sio.dumps({"format": 1, "vectorizer": Sneaky(), "model": None})
    with pytest.raises(ModelRefused, match="不允许的类型"):
        Classifier.loads(
            blob, sha256=hashlib.sha256(blob).hexdigest(), library_version=sklearn_version()
        )


def test_a_file_of_trusted_types_but_another_shape_is_refused() -> None:
    import skops.io as sio

    blob = sio.dumps({"format": 1, "vectorizer": {"a": 1}, "model": [1, 2]})
    with pytest.raises(ModelRefused, match="格式"):
        Classifier.loads(
            blob, sha256=hashlib.sha256(blob).hexdigest(), library_version=sklearn_version()
        )


def test_a_file_that_is_not_a_model_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("schema.json", "{}")
    blob = buffer.getvalue()
    with pytest.raises(ModelRefused):
        Classifier.loads(
            blob, sha256=hashlib.sha256(blob).hexdigest(), library_version=sklearn_version()
        )


def test_training_refuses_a_category_with_too_few_examples() -> None:
    texts = [f"请问第{i}个问题" for i in range(10)] + ["我要投诉"] * 3
    labels = ["咨询"] * 10 + ["投诉"] * 3
    with pytest.raises(TooFewExamples) as caught:
        Classifier.fit(texts, labels, min_examples=8)
    message = str(caught.value)
    assert "「投诉」3 条" in message and "至少需要 8 条" in message
    assert "「表扬」0 条" in message


def test_a_remembered_label_wins_for_a_near_identical_text(
    corpus: dict[str, list[tuple[str, str]]],
) -> None:
    rows = [r for rs in corpus.values() for r in rs]
    office = "你们公众号的排版能不能改一改，手机上看字太小了"
    texts, labels = [t for t, _ in rows] + [office], [c for _, c in rows] + ["投诉"]
    plain = Classifier.fit(texts[:-1], labels[:-1])
    assert plain.predict(["你们公众号的排版能不能改一改？手机上看字太小了！"])[0].category != "投诉"
    model = Classifier.fit(texts, labels, remember=[False] * len(rows) + [True])
    found = model.predict(["你们公众号的排版能不能改一改？手机上看字太小了！"])[0]
    assert found.category == "投诉" and found.confidence >= 0.85
    # Not for a text that only shares a few words with it.
    assert model.predict(["建议公众号出一个长辈版，字大一点"])[0].category == "建议"


def test_cross_validation_reports_every_category(corpus: dict) -> None:
    rows = [r for rs in corpus.values() for r in rs]
    report = cross_validate([t for t, _ in rows], [c for _, c in rows], folds=3)
    assert report.examples == len(rows)
    assert set(report.labels) == set(CATEGORIES)
    assert sum(sum(r) for r in report.confusion) == len(rows)
    assert report.accuracy > 0.8


def test_evaluate_counts_precision_recall_and_the_confusion_matrix() -> None:
    report = evaluate(["投诉", "投诉", "咨询", "求助"], ["投诉", "咨询", "咨询", "投诉"])
    assert report.labels == ("咨询", "投诉", "求助")
    assert report.accuracy == 0.5
    assert report.scores["投诉"].precision == 0.5 and report.scores["投诉"].recall == 0.5
    assert report.scores["求助"].recall == 0.0 and report.scores["求助"].f1 == 0.0
    assert report.confusion == ((1, 0, 0), (1, 1, 0), (0, 1, 0))
    assert "混淆矩阵" in report.text()


def test_a_labelled_csv_is_read_and_its_errors_name_the_line() -> None:
    good = 'text,category\n请问怎么办理？,咨询\n\n"有逗号, 的投诉",投诉\n'
    assert read_labelled_csv(good.encode()) == [
        ("请问怎么办理？", "咨询"),
        ("有逗号, 的投诉", "投诉"),
    ]
    with pytest.raises(CorpusError, match="第 1 行"):
        read_labelled_csv("内容,类别\n你好,其他\n", "a.csv")
    with pytest.raises(CorpusError, match=r"a\.csv 第 3 行：类别「举报」无效"):
        read_labelled_csv("text,category\n你好,其他\n有人非法集资,举报\n", "a.csv")
    with pytest.raises(CorpusError, match="UTF-8"):
        read_labelled_csv("text,category\n你好,其他\n".encode("gbk"), "a.csv")
