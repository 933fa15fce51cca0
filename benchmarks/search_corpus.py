"""Generated published items for benchmarks/search.py: realistic Chinese of a local financial
regulator (policies, interpretations, enforcement notices, notices, consultations) built from a
few hundred domain words and phrases drawn with Zipf-like frequencies, so that a few terms are
in most items and most are rare. Each item is made into its search document by
bot.search.documents.item_doc (Markdown to text, jieba tokens), across processes, and the
documents are cached in a file keyed by the count, the seed and a hash of the code and the
dictionary that made them.

Item i depends on (seed, i) alone, so any process can make any item and a run is repeatable.
"""

from __future__ import annotations

import bisect
import hashlib
import inspect
import itertools
import math
import multiprocessing
import os
import pickle
import random
import string
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from bot.search import documents
from bot.search.documents import Prepared, item_doc
from bot.search.query import parse
from moderation import knowledge, normalize, segment

# Every list is in order of frequency: the first word is drawn most often (Zipf, s = 1).
ORGS = (
    "地方金融组织 小额贷款公司 融资担保公司 典当行 融资租赁公司 商业保理公司 "
    "地方资产管理公司 网络小额贷款公司 融资担保机构 区域性股权市场 交易场所 再担保机构 "
    "私募基金管理人 农民专业合作社 银行业金融机构 行业协会 小微企业 会计师事务所 涉农主体 "
    "个体工商户 律师事务所 典当企业"
).split()
TOPICS = (
    "监管 风险 备案 信息公开 年度报告 行政处罚 监督管理 许可 风险防范 现场检查 非现场监管 "
    "监管评级 信息披露 内部控制 公司治理 关联交易 数据报送 注册资本 股权变更 业务范围 "
    "贷款余额 不良贷款 担保责任余额 放大倍数 风险准备金 消费者权益保护 投诉处理 反洗钱 "
    "统计报表 审计报告 普惠金融 小微企业融资 涉农贷款 综合融资成本 担保费率 代偿 追偿 "
    "债权转让 网络借贷 非法集资 非法金融活动 暴力催收 砍头息 征信 信用信息 失信惩戒 营业执照 "
    "经营许可证 统一社会信用代码 分支机构 跨区域经营 异地展业 退出机制 市场准入 分类监管 "
    "穿透式监管 协同监管 属地管理 金融稳定 流动性风险 信用风险 操作风险 合规风险 声誉风险 "
    "应急处置 风险排查 专项整治 整改报告 约谈 责令改正 警告 罚款 没收违法所得 暂停业务 "
    "行政许可 行政复议 行政诉讼 听证 依申请公开 政策解读 征求意见 营商环境 一网通办 "
    "数字化转型 监管科技 金融科技 绿色金融 科技金融 供应链金融 知识产权质押 应收账款 "
    "保理融资 融资租赁业务 典当业务 绝当物品 房地产抵押 动产质押 董事监事高级管理人员 "
    "任职资格 资本充足 拨备覆盖率 资产负债率 利率上限 实际控制人 主要股东 资金来源 自有资金 "
    "委托贷款 助贷业务 联合贷款 存量业务 风险缓释 保证金 风险分担 政府性融资担保 担保代偿率 "
    "再担保 银担合作 名单管理 黑名单 异常经营名录 失联企业 空壳企业 注销登记 清理规范 年审 "
    "等级评定 法人治理 档案管理 保密审查 个人信息保护"
).split()
VERBS = (
    "加强 规范 落实 开展 完善 健全 防范 化解 推进 强化 做好 建立 督促 指导 组织 配合 报送 "
    "审核 核查 整改 提升 优化 支持 鼓励 引导 限制 细化 统筹 压实 夯实"
).split()
ADVERBS = (
    "进一步 切实 依法 严格 持续 全面 有效 积极 稳妥 认真 及时 扎实 审慎 规范有序地 分类"
).split()
AUTHORITIES = (
    "市地方金融管理局 各区金融工作局 地方金融监管部门 市场监管部门 人民银行上海总部 公安机关 "
    "行业主管部门 市发展改革委 市司法局"
).split()
LAWS = (
    "《上海市地方金融监督管理条例》 《融资担保公司监督管理条例》 "
    "《中华人民共和国行政处罚法》 《中华人民共和国政府信息公开条例》 "
    "《小额贷款公司监督管理暂行办法》 《典当管理办法》 《融资租赁公司监督管理暂行办法》 "
    "《商业保理企业监督管理办法》 《防范和处置非法集资条例》 《中华人民共和国公司法》 "
    "《地方金融组织监督管理办法》 《中华人民共和国行政许可法》 《优化营商环境条例》 "
    "《中华人民共和国反洗钱法》 《征信业管理条例》 《中华人民共和国个人信息保护法》 "
    "《网络小额贷款业务管理暂行办法》 《地方资产管理公司监督管理暂行办法》"
).split()
VIOLATIONS = (
    "未按规定报送监管数据 超出经营范围开展业务 违规收取费用 未按规定披露信息 "
    "以暴力或者其他非法手段催收贷款 发放贷款时预先扣除利息 未经批准设立分支机构 "
    "违规开展异地业务 超过放大倍数提供担保 未按规定提取风险准备金 向关联方提供违规担保 "
    "进行虚假宣传 拒绝或者阻碍现场检查 提供虚假材料 未经批准变更主要股东 挪用客户资金 "
    "违规吸收或者变相吸收公众存款 未按规定保存业务档案 泄露客户个人信息 "
    "未按期提交年度审计报告"
).split()
PENALTIES = (
    "责令改正 予以警告 处以罚款{n}万元 没收违法所得 责令暂停相关业务 通报批评 "
    "吊销经营许可证 取消试点资格"
).split()
DISTRICTS = (
    "浦东新区 黄浦区 徐汇区 静安区 长宁区 闵行区 普陀区 杨浦区 虹口区 宝山区 嘉定区 松江区 "
    "青浦区 奉贤区 金山区 崇明区"
).split()
STREETS = "中山东一路 延安西路 南京西路 淮海中路 世纪大道 张杨路 曹杨路 漕溪北路 沪闵路".split()
TRADE_NAMES = "鼎恒信盛泰华安瑞汇丰隆金源达通融诚德鑫嘉宏远兴邦中创"
DOC_TYPES = ["通知", "实施意见", "管理办法", "暂行办法", "实施细则", "指导意见", "工作方案"]
HEADINGS = (
    "总体要求 主要任务 工作要求 适用范围 基本原则 监管措施 保障措施 职责分工 组织实施 附则 "
    "报送要求 风险防范 监督检查 法律责任"
).split()
# Item kinds (bot.models.Kind) and how often each is published; offices by kind.
KINDS = [
    ("enforcement", 35),
    ("notice", 25),
    ("policy", 20),
    ("interpretation", 10),
    ("consultation", 10),
]
OFFICES = {
    "policy": ["法规处", "地方金融组织监管处", "融资担保监管处"],
    "interpretation": ["法规处", "地方金融组织监管处", "办公室"],
    "enforcement": ["稽查执法处", "地方金融组织监管处", "融资担保监管处"],
    "notice": ["办公室", "地方金融组织监管处", "小额贷款监管处", "融资担保监管处"],
    "consultation": ["法规处", "政策研究处"],
}
VALIDITIES = [("", 70), ("amended", 10), ("expired", 10), ("repealed", 10)]
FIRST_YEAR, LAST_YEAR = 2014, 2026
SHANGHAI = timedelta(hours=8)


class Zipf:
    """Draws from `words` with weight 1 / rank**s (the first word is rank 1)."""

    def __init__(self, words: Sequence[str], s: float = 1.0) -> None:
        self.words = list(words)
        self.cum = list(itertools.accumulate(1 / (r**s) for r in range(1, len(words) + 1)))

    def __call__(self, rng: random.Random) -> str:
        return self.words[bisect.bisect(self.cum, rng.random() * self.cum[-1])]


ORG, TOPIC, VERB, ADVERB = Zipf(ORGS), Zipf(TOPICS), Zipf(VERBS), Zipf(ADVERBS)
AUTHORITY, LAW, VIOLATION = Zipf(AUTHORITIES), Zipf(LAWS), Zipf(VIOLATIONS)
PENALTY, DISTRICT, HEADING = Zipf(PENALTIES), Zipf(DISTRICTS, 0.6), Zipf(HEADINGS, 0.5)


def company(rng: random.Random) -> str:
    kind = rng.choice(["小额贷款", "融资担保", "典当", "融资租赁", "商业保理"])
    trade = "".join(rng.sample(TRADE_NAMES, 2))
    return f"上海{trade}{kind}有限公司"


SENTENCES = [
    "{verb}{org}{topic}工作。",
    "{org}应当{adverb}{verb}{topic}，{verb}{topic}。",
    "{authority}要{adverb}{verb}对{org}的{topic}和{topic}，{verb}{topic}。",
    "根据{law}第{n}条规定，{org}{violation}的，由{authority}{penalty}。",
    "{org}应当于每年{month}月{day}日前向{authority}报送{topic}和{topic}。",
    "对{topic}中发现的问题，{org}应当在{n}个工作日内完成整改，并提交{topic}。",
    "{authority}将{topic}结果作为{topic}的重要依据，{adverb}{verb}{topic}。",
    "鼓励{org}{verb}{topic}，支持{topic}，更好服务{org}。",
    "严禁{org}{violation}。",
    "{adverb}推进{topic}，切实{verb}{topic}，守住不发生区域性金融风险的底线。",
    "{org}开展{topic}的，应当{adverb}{verb}{topic}，并按规定办理{topic}。",
    "各{org}要结合自身实际，{verb}{topic}制度，明确{topic}的责任部门和责任人。",
]
SENTENCE = Zipf(SENTENCES, 0.7)


# Words nearly every notice of a regulator uses, whatever it is about.
GENERAL = TOPICS[:8]


@dataclass(frozen=True)
class Subject:
    """What one item is about: most of its organisations, topics and laws come from here, the
    rest from the whole vocabulary, so that a term is common because many items are about it
    (or because every item uses it), as in a real archive."""

    orgs: tuple[str, ...]
    topics: tuple[str, ...]
    law: str

    @classmethod
    def draw(cls, rng: random.Random) -> Subject:
        orgs = tuple(ORG(rng) for _ in range(2))
        return cls(orgs, tuple(TOPIC(rng) for _ in range(rng.randint(2, 4))), LAW(rng))

    def org(self, rng: random.Random) -> str:
        return rng.choice(self.orgs) if rng.random() < 0.85 else ORG(rng)

    def topic(self, rng: random.Random) -> str:
        r = rng.random()
        if r < 0.7:
            return rng.choice(self.topics)
        return rng.choice(GENERAL) if r < 0.95 else TOPIC(rng)

    def fields(self) -> dict[str, Callable[[random.Random], str]]:
        return {
            "org": self.org,
            "topic": self.topic,
            "law": lambda rng: self.law if rng.random() < 0.8 else LAW(rng),
            "verb": VERB,
            "adverb": ADVERB,
            "authority": AUTHORITY,
            "violation": VIOLATION,
            "penalty": lambda rng: PENALTY(rng).format(n=rng.randint(1, 50)),
            "n": lambda rng: str(rng.randint(2, 60)),
            "month": lambda rng: str(rng.randint(1, 12)),
            "day": lambda rng: str(rng.randint(1, 28)),
        }


CHINESE_NUMBERS = "一二三四五六七八九十"


def sentence(rng: random.Random, subject: Subject) -> str:
    # Every field of the template drawn anew (a template may use a field twice).
    fields, out = subject.fields(), []
    for literal, name, _, _ in string.Formatter().parse(SENTENCE(rng)):
        out.append(literal)
        if name:
            out.append(fields[name](rng))
    return "".join(out)


def title_for(kind: str, rng: random.Random, year: int, about: Subject) -> str:
    org, topic = about.orgs[0], about.topics[0]
    while True:
        if kind == "policy":
            more = rng.choice(["", "进一步"])
            title = f"关于{more}{VERB(rng)}{org}{topic}的{rng.choice(DOC_TYPES)}"
        elif kind == "interpretation":
            title = f"《关于{VERB(rng)}{org}{topic}的{rng.choice(DOC_TYPES)}》政策解读"
        elif kind == "enforcement":
            title = rng.choice(
                [
                    f"{company(rng)}行政处罚决定书",
                    f"行政处罚信息公示（{year}年第{rng.randint(1, 24)}期）",
                    f"关于对{company(rng)}的行政处罚决定",
                ]
            )
        elif kind == "notice":
            title = rng.choice(
                [
                    f"关于做好{year}年度{org}{topic}工作的通知",
                    f"关于公布{year}年{org}{topic}名单的公告",
                    f"关于开展{org}{topic}的通知",
                ]
            )
        else:
            title = f"关于《{org}{topic}管理办法（征求意见稿）》公开征求意见的通知"
        if 10 <= len(title) <= 30:
            return title
        org, topic = about.org(rng), about.topic(rng)


def body_for(kind: str, rng: random.Random, year: int, title: str, about: Subject) -> str:
    """A Markdown body of 300–3,000 characters (log-uniform), paragraphs under headings."""
    target = int(math.exp(rng.uniform(math.log(300), math.log(3000))))
    if kind == "enforcement":
        name = company(rng)
        parts = [
            f"当事人：{name}",
            f"统一社会信用代码：91310{rng.randrange(10**12):012d}X",
            f"住所：上海市{DISTRICT(rng)}{rng.choice(STREETS)}{rng.randint(1, 999)}号",
            f"经查，当事人存在{VIOLATION(rng)}、{VIOLATION(rng)}等行为，违反了{about.law}"
            f"第{rng.randint(2, 60)}条的规定。",
        ]
    else:
        parts = [
            f"{AUTHORITY(rng)}、各{about.orgs[0]}：",
            f"为{VERB(rng)}{about.org(rng)}{about.topic(rng)}，{VERB(rng)}{about.topic(rng)}，"
            f"根据{about.law}，"
            f"结合本市实际，现就{title.removeprefix('关于')[:12]}有关事项通知如下。",
        ]
    size = sum(len(p) for p in parts)
    section = 0
    while size < target:
        # A new heading now and then (at most ten), else another paragraph under the last.
        if section < len(CHINESE_NUMBERS) and (section == 0 or rng.random() < 0.4):
            heading = f"## {CHINESE_NUMBERS[section]}、{HEADING(rng)}"
            section += 1
            parts.append(heading)
            size += len(heading)
        paragraph = "".join(sentence(rng, about) for _ in range(rng.randint(2, 6)))
        parts.append(paragraph)
        size += len(paragraph)
    if kind == "enforcement":
        parts.append(f"依据{about.law}，决定对当事人{PENALTY(rng).format(n=rng.randint(1, 50))}。")
    else:
        parts.append(f"本{rng.choice(DOC_TYPES)}自{year}年{rng.randint(1, 12)}月1日起施行。")
    body = "\n\n".join(parts)
    if len(body) > 3000:  # cut at the last full sentence
        body = body[: body.rfind("。", 0, 3000) + 1]
    return body


def snapshot(seed: int, i: int, version: int = 1) -> tuple[dict[str, Any], str, datetime]:
    """Item i's published snapshot (of `version`: a later one is revised), its validity and its
    publication time."""
    rng = random.Random(seed * 1_000_003 + i)
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    # More items in recent years, as a site grows.
    year = FIRST_YEAR + int((LAST_YEAR - FIRST_YEAR + 1) * rng.random() ** 0.7)
    year = min(year, LAST_YEAR)
    written = date(year, 1, 1) + timedelta(days=rng.randrange(330))
    published = (
        datetime(written.year, written.month, written.day, 9, tzinfo=UTC)
        + timedelta(days=rng.randrange(20))
        - SHANGHAI
    )
    validity = ""
    if kind in ("policy", "interpretation"):
        validity = rng.choices([v for v, _ in VALIDITIES], [w for _, w in VALIDITIES])[0]
    about = Subject.draw(rng)
    title = title_for(kind, rng, year, about)
    body = body_for(kind, rng, year, title, about)
    numbered = {"policy": "沪金规", "enforcement": "沪金罚", "notice": "沪金管"}.get(kind)
    snap = {
        "kind": kind,
        "column": kind,
        "title": title,
        "body": body,
        "summary": body.split("\n\n")[1][:80] if kind in ("policy", "interpretation") else "",
        "office": rng.choice(OFFICES[kind]),
        "publisher": "上海市地方金融管理局",
        "written_on": written.isoformat(),
        "doc_number": f"{numbered}〔{year}〕{rng.randint(1, 60)}号" if numbered else "",
    }
    if version > 1:
        snap["title"] = snap["title"][:26] + "（修订）"
        snap["body"] += f"\n\n本次修订（第{version}版）：{sentence(rng, about)}"
    return snap, validity, published


# -- query candidates ------------------------------------------------------------------------
def candidates() -> dict[str, tuple[str, ...]]:
    """What a visitor might type that the mix is drawn from: the domain words, as parse()
    segments them (text → tokens)."""
    words = [*TOPICS, *ORGS, *DISTRICTS, *(law.strip("《》") for law in LAWS)]
    return {w: parse(w, 100).tokens for w in dict.fromkeys(words)}


@dataclass
class Corpus:
    docs: list[Prepared]
    # For each document, which of the candidate tokens it holds (to pick the query mix).
    present: list[frozenset[str]]
    generate_seconds: float  # CPU seconds in the worker processes
    segment_seconds: float
    wall_seconds: float
    processes: int
    chars: int  # text segmented (title + body as item_doc sees it)


def _chunk(
    args: tuple[int, int, int, frozenset[str]],
) -> tuple[list[Prepared], list[frozenset[str]], float, float]:
    seed, start, stop, wanted = args
    docs, present = [], []
    gen = seg = 0.0
    for i in range(start, stop):
        t0 = time.process_time()
        snap, validity, published = snapshot(seed, i)
        t1 = time.process_time()
        doc = item_doc(i, snap, version=1, validity=validity, published_at=published)
        t2 = time.process_time()
        gen, seg = gen + t1 - t0, seg + t2 - t1
        docs.append(doc)
        present.append(wanted.intersection(f"{doc.title_tokens} {doc.body_tokens}".split()))
    return docs, present, gen, seg


def _fingerprint() -> str:
    """A hash of what the cached documents depend on: this generator, the document builder,
    the segmentation and its domain dictionary (a change to any makes new documents)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for module in (documents, knowledge, normalize, segment):
        digest.update(Path(inspect.getfile(module)).read_bytes())
    digest.update(
        resources.files("moderation").joinpath("dictionaries", "kb_words.txt").read_bytes()
    )
    return digest.hexdigest()[:12]


def cache_path(n: int, seed: int) -> Path:
    name = f"docs-n{n}-seed{seed}-{_fingerprint()}.pickle"
    return Path(tempfile.gettempdir()) / "gongkai-bench-search" / name


def build(n: int, seed: int, processes: int, use_cache: bool = True) -> tuple[Corpus, bool]:
    """The n documents (from the cache when there is one); (corpus, whether it was cached)."""
    path = cache_path(n, seed)
    if use_cache and path.exists():
        with path.open("rb") as f:
            return pickle.load(f), True
    wanted = frozenset(t for toks in candidates().values() for t in toks)
    step = 250
    jobs = [(seed, s, min(n + 1, s + step), wanted) for s in range(1, n + 1, step)]
    docs: list[Prepared] = []
    present: list[frozenset[str]] = []
    gen = seg = 0.0
    start = time.perf_counter()
    # fork: the workers inherit jieba's dictionary if this process loaded it already.
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for k, (d, p, g, s) in enumerate(pool.imap(_chunk, jobs), 1):
            docs += d
            present += p
            gen, seg = gen + g, seg + s
            if k % max(1, len(jobs) // 10) == 0:
                print(f"  segmented {len(docs):,} / {n:,} ({time.perf_counter() - start:.0f} s)")
    corpus = Corpus(
        docs,
        present,
        gen,
        seg,
        time.perf_counter() - start,
        processes,
        sum(len(d.title) + len(d.text) for d in docs),
    )
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        with partial.open("wb") as f:
            pickle.dump(corpus, f, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)
    return corpus, False


def shares(corpus: Corpus, queries: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """The share of documents holding every token of each query (what "all" mode matches)."""
    postings: dict[str, list[int]] = {}
    for i, held in enumerate(corpus.present):
        for token in held:
            postings.setdefault(token, []).append(i)
    out = {}
    for text, toks in queries.items():
        lists = sorted((postings.get(t, []) for t in toks), key=len)
        hits = set(lists[0]).intersection(*lists[1:]) if lists else set()
        out[text] = len(hits) / len(corpus.docs)
    return out
