"""The category classifier of comment triage: TF-IDF over character 1–2-grams and a logistic
regression (scikit-learn), whose probabilities say how sure it is. It takes texts and labels and
knows nothing of the database; bot/inbox/learning.py gathers the labels and keeps the file.

Why these features. On the shipped corpus (moderation/corpus/, one file per source), trained on
all sources but one and tested on the one left out, character 1–2-grams scored better than
character 1–3- or 1–4-grams, and better than jieba words added to them (see
docs/triage-labelling.md, "Measured"); they also need no segmenter at prediction time.

A saved model is the skops serialisation of a dict of scikit-learn objects and plain values: no
pickle, nothing executes on load, and the types allowed are listed here (TRUSTED); a file
holding any other type is refused. The file's SHA-256 and the scikit-learn version that wrote it
are recorded beside it (in the database) and checked before loading: a tampered file, or one
written by another scikit-learn, is refused with ModelRefused, never loaded.

scikit-learn is imported inside the functions that need it: importing this module costs nothing,
so commands that never classify start as fast as before.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORIES",
    "Classifier",
    "CorpusError",
    "ModelRefused",
    "Prediction",
    "Report",
    "TooFewExamples",
    "evaluate",
    "read_labelled_csv",
    "shipped_corpus",
    "sklearn_version",
]

# The categories, in the order reports list them (moderation.triage.CATEGORIES, repeated here
# so that importing the classifier does not import triage and the other way round).
CATEGORIES = ("咨询", "建议", "投诉", "求助", "表扬", "信访类", "其他")
FORMAT = 1  # the layout of the saved dict; a file of another format is refused
NGRAMS = (1, 2)
MIN_DF = 2
C = 10.0
# The office's own labels (remember=True) weigh more than the shipped corpus, and a text this
# similar (cosine of the character n-gram vectors) to one of them gets its label outright: a
# moderator's correction holds for the next message that says nearly the same thing.
OFFICE_WEIGHT = 3.0
MEMORY_SIMILARITY = 0.85
# The types a saved model may contain (skops' trusted types: nothing else is loaded).
TRUSTED = (
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
)
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")

Progress = Callable[[str, int, int], None]  # (step, done, total)


class TooFewExamples(ValueError):
    """A category has fewer labelled examples than training needs; the message says which."""

    def __init__(self, counts: dict[str, int], minimum: int) -> None:
        short = [f"「{c}」{counts.get(c, 0)} 条" for c in CATEGORIES if counts.get(c, 0) < minimum]
        super().__init__(
            f"无法训练：每个类别至少需要 {minimum} 条标注样本，以下类别不足："
            f"{'、'.join(short)}。请先在控制台或用 gongkai inbox categorize 标注更多留言。"
        )
        self.counts, self.minimum = counts, minimum


class ModelRefused(Exception):
    """A saved model that must not be loaded (hash, library version or content); the message
    (Chinese) says why. Triage then uses the keyword scores."""


class CorpusError(ValueError):
    """A labelled CSV that cannot be read; the message (Chinese) names the file and line."""


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float  # the probability of `category`
    probabilities: tuple[tuple[str, float], ...]  # every category, most likely first

    def likely(self, min_probability: float) -> tuple[str, ...]:
        """The categories at least `min_probability` likely (always the first one)."""
        return tuple(
            c for i, (c, p) in enumerate(self.probabilities) if i == 0 or p >= min_probability
        )


def sklearn_version() -> str:
    from sklearn import __version__

    return str(__version__)


def prepare(text: str) -> str:
    """What the features are counted on: NFKC (full-width to half-width), lower case, runs of
    digits as one 0 (amounts, dates and masked numbers say nothing of the category), runs of
    white space as one space."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _DIGITS.sub("0", text)).strip()


class Classifier:
    """A trained model: the vectorizer, the logistic regression and what it was trained on."""

    def __init__(self, parts: dict[str, Any]) -> None:
        self._parts = parts
        self.vectorizer = parts["vectorizer"]
        self.model = parts["model"]
        self.memory = parts.get("memory")  # the remembered examples' vectors, or None
        self.memory_labels: list[str] = [str(c) for c in parts.get("memory_labels", [])]
        self.classes: tuple[str, ...] = tuple(str(c) for c in self.model.classes_)
        self.examples: int = int(parts.get("examples", 0))
        self.counts: dict[str, int] = {str(k): int(v) for k, v in parts.get("counts", {}).items()}

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        remember: Sequence[bool] | None = None,
        min_examples: int = 8,
        progress: Progress | None = None,
    ) -> Classifier:
        """Train on texts and their categories; TooFewExamples when a category has fewer than
        `min_examples` (every category must be learnt, else it could never be predicted).
        `remember` marks the office's own labels: weighted more, and remembered (see
        MEMORY_SIMILARITY)."""
        check_labels(labels, min_examples)
        remember = list(remember) if remember is not None else [False] * len(texts)
        if progress:
            progress("fit", 0, 1)
        vectorizer, model = _fit(texts, labels, remember)
        kept = [i for i, r in enumerate(remember) if r]
        memory = vectorizer.transform([prepare(texts[i]) for i in kept]) if kept else None
        if progress:
            progress("fit", 1, 1)
        return cls(
            {
                "format": FORMAT,
                "vectorizer": vectorizer,
                "model": model,
                "memory": memory,
                "memory_labels": [labels[i] for i in kept],
                "examples": len(texts),
                "counts": dict(Counter(labels)),
            }
        )

    # -- prediction -------------------------------------------------------------------------
    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One Prediction per text, computed for the whole batch at once."""
        if not texts:
            return []
        from threadpoolctl import threadpool_limits

        matrix = self.vectorizer.transform([prepare(t) for t in texts])
        with threadpool_limits(limits=1):  # see _fit
            rows = self.model.predict_proba(matrix)
        nearest: list[tuple[float, str]] = [(0.0, "")] * len(texts)
        if self.memory is not None and self.memory.shape[0]:
            # The vectors are L2-normalised: the dot product is the cosine.
            similar = (matrix @ self.memory.T).tocsr()
            for i in range(similar.shape[0]):
                start, end = similar.indptr[i], similar.indptr[i + 1]
                if start < end:
                    best = start + int(similar.data[start:end].argmax())
                    label = self.memory_labels[int(similar.indices[best])]
                    nearest[i] = (float(similar.data[best]), label)
        out = []
        for row, (similarity, label) in zip(rows, nearest, strict=True):
            ranked = sorted(
                zip(self.classes, (float(p) for p in row), strict=True),
                key=lambda cp: -cp[1],
            )
            if similarity >= MEMORY_SIMILARITY:
                # A person labelled (nearly) this text: their category, as sure as the texts
                # are alike.
                ranked = [(label, similarity), *(cp for cp in ranked if cp[0] != label)]
            out.append(Prediction(ranked[0][0], ranked[0][1], tuple(ranked)))
        return out

    # -- the file ---------------------------------------------------------------------------
    def dumps(self) -> bytes:
        """The model as skops bytes (no pickle)."""
        import skops.io as sio

        return bytes(sio.dumps(self._parts))

    @classmethod
    def loads(cls, data: bytes, *, sha256: str, library_version: str) -> Classifier:
        """Load a saved model, refusing (ModelRefused, before anything is deserialised) one
        whose SHA-256 is not `sha256` or that was written by a scikit-learn other than the one
        installed, and one that holds a type outside TRUSTED."""
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ModelRefused(
                f"分类模型文件的校验值不符（记录为 {sha256[:12]}…，文件为 {actual[:12]}…），"
                "文件可能被篡改，拒绝加载。"
            )
        installed = sklearn_version()
        if library_version != installed:
            raise ModelRefused(
                f"分类模型由 scikit-learn {library_version} 训练，当前为 {installed}，"
                "拒绝加载；请重新训练（gongkai triage train）。"
            )
        import skops.io as sio

        try:
            untrusted = set(sio.get_untrusted_types(data=data)) - set(TRUSTED)
            if untrusted:
                raise ModelRefused(
                    f"分类模型文件含有不允许的类型：{'、'.join(sorted(untrusted))}，拒绝加载。"
                )
            parts = sio.loads(data, trusted=list(TRUSTED))
        except ModelRefused:
            raise
        except Exception as exc:  # a corrupt archive: zip, JSON or schema errors
            raise ModelRefused(f"分类模型文件无法读取：{exc}") from exc
        if not _well_formed(parts):
            raise ModelRefused("分类模型文件的格式不是本版本所用的格式，拒绝加载。")
        return cls(parts)


def _well_formed(parts: Any) -> bool:
    """Whether a loaded file holds what dumps() writes (skops trusts some types by default, so
    the shape is checked too before anything is used)."""
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    return (
        isinstance(parts, dict)
        and parts.get("format") == FORMAT
        and isinstance(parts.get("vectorizer"), TfidfVectorizer)
        and isinstance(parts.get("model"), LogisticRegression)
        and (parts.get("memory") is None or isinstance(parts["memory"], csr_matrix))
        and isinstance(parts.get("memory_labels", []), list)
    )


def check_labels(labels: Iterable[str], min_examples: int) -> dict[str, int]:
    """The count of each category; TooFewExamples when one has fewer than `min_examples`, and
    ValueError for a label that is not a category."""
    counts = Counter(labels)
    unknown = sorted(set(counts) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"未知的类别：{'、'.join(unknown)}；可选：{'、'.join(CATEGORIES)}")
    if any(counts.get(c, 0) < min_examples for c in CATEGORIES):
        raise TooFewExamples(dict(counts), min_examples)
    return dict(counts)


def _fit(texts: Sequence[str], labels: Sequence[str], remember: Sequence[bool]) -> tuple[Any, Any]:
    import numpy
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    vectorizer = TfidfVectorizer(
        analyzer="char", ngram_range=NGRAMS, min_df=MIN_DF, sublinear_tf=True, dtype=numpy.float64
    )
    matrix = vectorizer.fit_transform([prepare(t) for t in texts])
    # class_weight: 信访类 and 表扬 are rare; without weights they would rarely be predicted.
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
    # One BLAS thread: these matrices are small, and on a busy machine OpenBLAS's threads
    # fighting over the cores made a 0.1 s fit take 10 s.
    weights = numpy.array([OFFICE_WEIGHT if r else 1.0 for r in remember])
    with threadpool_limits(limits=1):
        model.fit(matrix, list(labels), sample_weight=weights)
    return vectorizer, model


# -- measuring --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    """Accuracy, per-category precision / recall / F1 and the confusion matrix (rows: the
    true category, columns: the predicted one, both in `labels` order)."""

    examples: int
    accuracy: float
    labels: tuple[str, ...]
    scores: dict[str, ClassScore]
    confusion: tuple[tuple[int, ...], ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def recall(self, category: str) -> float:
        return self.scores[category].recall

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "accuracy": round(self.accuracy, 4),
            "categories": {
                c: {
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "support": s.support,
                }
                for c, s in self.scores.items()
            },
            "labels": list(self.labels),
            "confusion": [list(r) for r in self.confusion],
        }

    def text(self) -> str:
        """The report as people read it (Chinese headings, fixed-width table)."""
        lines = [f"样本 {self.examples} 条，准确率 {self.accuracy:.3f}", ""]
        lines.append(f"{'类别':<6}{'精确率':>8}{'召回率':>8}{'F1':>8}{'样本':>6}")
        for c in self.labels:
            s = self.scores[c]
            lines.append(f"{c:<6}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>9.3f}{s.support:>7}")
        lines += ["", "混淆矩阵（行：实际类别，列：预测类别）"]
        width = 6
        lines.append(" " * 8 + "".join(f"{c[:3]:>{width}}" for c in self.labels))
        for c, row in zip(self.labels, self.confusion, strict=True):
            lines.append(f"{c:<6}" + "".join(f"{n:>{width + 2}}" for n in row))
        lines += list(self.notes)
        return "\n".join(lines)


def evaluate(expected: Sequence[str], predicted: Sequence[str]) -> Report:
    """Compare predicted categories with the expected ones."""
    if len(expected) != len(predicted):
        raise ValueError("expected and predicted differ in length")
    labels = tuple(c for c in CATEGORIES if c in set(expected) | set(predicted))
    index = {c: i for i, c in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for e, p in zip(expected, predicted, strict=True):
        matrix[index[e]][index[p]] += 1
    scores = {}
    for c, i in index.items():
        tp = matrix[i][i]
        support = sum(matrix[i])
        predicted_n = sum(row[i] for row in matrix)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[c] = ClassScore(precision, recall, f1, support)
    correct = sum(matrix[i][i] for i in range(len(labels)))
    total = len(expected)
    return Report(
        total,
        correct / total if total else 0.0,
        labels,
        scores,
        tuple(tuple(r) for r in matrix),
    )


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    remember: Sequence[bool] | None = None,
    folds: int = 5,
    min_examples: int = 8,
    progress: Progress | None = None,
) -> Report:
    """Stratified k-fold cross-validation: each fold trained on the others and predicted (by
    the linear model: a fold's held-out texts are never in its memory)."""
    from sklearn.model_selection import StratifiedKFold

    check_labels(labels, min_examples)
    remember = list(remember) if remember is not None else [False] * len(texts)
    folds = max(2, min(folds, min(Counter(labels).values())))
    predicted = [""] * len(texts)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for n, (train, test) in enumerate(splitter.split(list(texts), list(labels))):
        if progress:
            progress("cv", n, folds)
        vectorizer, model = _fit(
            [texts[i] for i in train], [labels[i] for i in train], [remember[i] for i in train]
        )
        found = model.predict(vectorizer.transform([prepare(texts[i]) for i in test]))
        for i, category in zip(test, found, strict=True):
            predicted[i] = str(category)
    if progress:
        progress("cv", folds, folds)
    return evaluate(list(labels), predicted)


# -- labelled CSV files -----------------------------------------------------------------------
def read_labelled_csv(data: bytes | str, name: str = "文件") -> list[tuple[str, str]]:
    """(text, category) rows of a UTF-8 CSV whose header is `text,category`; CorpusError names
    the line of the first bad row."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{name}：不是 UTF-8 编码的 CSV 文件。") from exc
    reader = csv.reader(io.StringIO(data, newline=""))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != ["text", "category"]:
        raise CorpusError(f"{name}：第 1 行应为表头 text,category。")
    rows = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2 or not row[0].strip():
            raise CorpusError(f"{name} 第 {line} 行：应有 text 和 category 两列，且 text 不为空。")
        category = row[1].strip()
        if category not in CATEGORIES:
            raise CorpusError(
                f"{name} 第 {line} 行：类别「{category}」无效，可选：{'、'.join(CATEGORIES)}。"
            )
        rows.append((row[0].strip(), category))
    return rows


def shipped_corpus() -> dict[str, list[tuple[str, str]]]:
    """The labelled examples shipped in moderation/corpus/, by source (the file's stem)."""
    folder = resources.files("moderation").joinpath("corpus")
    out: dict[str, list[tuple[str, str]]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".csv"):
            out[Path(entry.name).stem] = read_labelled_csv(entry.read_bytes(), entry.name)
    return out
