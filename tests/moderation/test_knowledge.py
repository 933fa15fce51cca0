"""moderation.knowledge: BM25 over jieba tokens finds the FAQ entry or published item that
answers a question, with a confidence in 0..1 that separates real answers from chance overlap.
"""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.knowledge import KbDoc, KbHit, KnowledgeBase, tokens

DOCS = [
    KbDoc(
        "faq:1",
        "小额贷款公司设立需要提交哪些材料？",
        "申请设立小额贷款公司，应向所在区金融工作部门提交设立申请书、可行性研究报告、"
        "股东资格证明和公司章程草案，经审核后报市地方金融监管局。",
        "设立小额贷款公司需提交申请书、可行性研究报告、股东资格证明、章程草案等材料。",
        office="地方金融监管一处",
    ),
    KbDoc(
        "faq:2",
        "融资担保公司的年审什么时候开始？",
        "本市融资担保公司年度审查每年3月启动，请于4月30日前通过监管系统报送年审材料。",
        "融资担保公司年审每年3月启动，4月30日前报送材料。",
        office="地方金融监管一处",
    ),
    KbDoc(
        "item:7",
        "关于开展2025年度典当行年审工作的通知",
        "各典当行应于2025年6月30日前向区金融工作部门提交年审材料，包括经审计的财务报表、"
        "经营情况报告和典当业务台账。逾期未提交的，依法处理。",
        "典当行年审材料请于6月30日前提交，详见通知。",
        office="地方金融监管二处",
        url="https://jrj.sh.gov.cn/tz/7",
    ),
    KbDoc(
        "faq:4",
        "如何举报非法集资？",
        "发现非法集资线索，可拨打12345市民服务热线或登录市地方金融监管局网站在线举报，"
        "请提供平台名称、宣传材料和转账记录。",
        "非法集资线索可通过12345热线或局网站举报。",
        office="金融稳定处",
    ),
    KbDoc(
        "faq:5",
        "政府信息公开申请怎么提交？",
        "可通过网上申请、信函或当面提交政府信息公开申请，注明所需信息的名称、文号或内容描述。",
        "可网上、信函或当面提交政府信息公开申请。",
        office="政策法规处",
    ),
]


KB = KnowledgeBase.build(DOCS)


def kb() -> KnowledgeBase:
    return KB


def best(text: str) -> KbHit:
    hits = kb().search(text)
    assert hits, text
    return hits[0]


def test_each_question_finds_its_own_answer_first() -> None:
    assert best("请问设立小额贷款公司要交什么材料").doc.source == "faq:1"
    assert best("融资担保公司年审几月份开始？").doc.source == "faq:2"
    assert best("典当行年审材料截止到什么时候提交").doc.source == "item:7"
    assert best("我想举报一个非法集资的平台，怎么举报").doc.source == "faq:4"
    assert best("怎么申请政府信息公开").doc.source == "faq:5"


def test_asking_the_faq_question_itself_is_near_certain() -> None:
    hit = best("小额贷款公司设立需要提交哪些材料？")
    assert hit.confidence >= 0.9
    assert hit.doc.answer.startswith("设立小额贷款公司")


def test_unrelated_question_has_low_confidence_or_no_hit() -> None:
    hits = kb().search("我家楼下的垃圾分类点太臭了，希望物业处理")
    assert not hits or hits[0].confidence < 0.35


def test_partial_overlap_scores_between_a_match_and_nothing() -> None:
    exact = best("融资担保公司年审什么时候开始")
    partial = best("融资担保公司的股东变更要审批吗")
    assert partial.confidence < exact.confidence


def test_full_width_and_case_do_not_hide_a_match() -> None:
    assert best("ＰＰ非法集资举报方式").doc.source == "faq:4"
    assert tokens("ＡＢＣ典当行") == tokens("abc典当行")


def test_hits_are_ordered_and_limited() -> None:
    hits = kb().search("年审材料提交", limit=2)
    assert len(hits) == 2
    assert hits[0].score >= hits[1].score
    assert kb().search("年审材料提交", limit=0) == []


def test_domain_words_are_single_tokens_and_stopwords_are_dropped() -> None:
    words = tokens("请问典当行年审是什么时候？")
    assert "年审" in words and "典当行" in words
    assert "请问" not in words and "什么时候" not in words and "？" not in words


def test_empty_knowledge_base_and_empty_query_find_nothing() -> None:
    empty = KnowledgeBase.build([])
    assert len(empty) == 0
    assert empty.search("小额贷款公司") == []
    assert len(kb()) == len(DOCS)
    assert kb().search("请问，谢谢！") == []


def test_common_words_alone_still_find_documents_with_the_rarest_of_them() -> None:
    many = [
        KbDoc(f"item:{i}", f"地方金融组织监管通知{i}", "地方金融组织监管要求。", "见通知")
        for i in range(40)
    ]
    hits = KnowledgeBase.build([*many, *DOCS]).search("地方金融组织的监管通知")
    assert hits and hits[0].doc.source.startswith("item:")


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("小额贷款公司典当行年审材料提交非法集资举报？ ab12"), max_size=60
    )
)
def test_confidence_is_always_between_zero_and_one(text: str) -> None:
    for hit in kb().search(text, limit=5):
        assert 0.0 <= hit.confidence <= 1.0
        assert hit.score > 0


def test_jieba_loads_quietly_on_first_use() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from moderation.knowledge import tokens; print(tokens('典当行年审'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "年审" in run.stdout
    assert run.stderr == ""
