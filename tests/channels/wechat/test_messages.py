"""channels/wechat/messages.py on its own, without a server or a database: the XML parser."""

from __future__ import annotations

import gc
import time

from channels.wechat.messages import parse_xml


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
