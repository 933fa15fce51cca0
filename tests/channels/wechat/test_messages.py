"""channels/wechat/messages.py on its own, without a server or a database: the XML parser
and the classification of what it read."""

from __future__ import annotations

import gc
import re
import time
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from channels.wechat.messages import XmlRejected, classify, parse_xml


def message(content: str, msg_id: int) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        "<FromUserName><![CDATA[oV5CrjpxgaGXNHIQigzNlgLTnwic]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def test_parsing_leaves_nothing_for_the_garbage_collector() -> None:
    # Every callback parses twice: parsers freed only by a collection made the collector's
    # runs the costliest part of a request after the knowledge lookup.
    gc.collect()
    gc.disable()
    try:
        for msg_id in range(3401, 3421):
            assert parse_xml(message("无环", msg_id).encode())["MsgId"] == str(msg_id)
        assert gc.collect() == 0
    finally:
        gc.enable()


def _fields(created: str) -> dict[str, str]:
    return {"MsgType": "text", "FromUserName": "o1", "CreateTime": created, "MsgId": "1"}


@given(
    st.one_of(
        st.text(max_size=30),
        st.integers(min_value=-(10**25), max_value=10**25).map(str),
        st.integers(min_value=0, max_value=10**400).map(str),
    )
)
def test_a_create_time_is_a_bounded_ascii_integer_or_refused(created: str) -> None:
    # Whatever CreateTime holds, classify gives the time or XmlRejected (a 400), never another
    # error (a 500), and reads no digits but ASCII ones, at most 18 of them.
    try:
        received = classify(_fields(created))
    except XmlRejected:
        return
    text = created.strip() or "0"
    assert re.fullmatch(r"-?[0-9]{1,18}", text)
    assert received.at == datetime.fromtimestamp(int(text), UTC)
