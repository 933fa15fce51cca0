"""/wechat/callback against fixed outside vectors, not only messages our own tests encrypt.

1. The official sample of WeChat's 消息加解密 document (WXBizMsgCrypt sample code; values in
   docs/channels/wechat.md, "Callback encryption test vectors"), posted over real HTTP to the
   running app in safe mode with the sample's token, EncodingAESKey, AppId and query. Its
   timestamp is from 2014, so these tests pin the app's WECHAT_CLOCK to it: only here is the
   freshness check relaxed, and one test shows that without the pinned clock it is refused.
2. wechatpy's crypto vector (tests/test_crypto.py, CryptoTestCase, commit 5b8502e3). wechatpy
   has no vector for the official account's WeChatCrypto: this one is for WeCom
   (wechatpy.work.crypto), whose callback is not the official account's (no plain `signature`,
   an AgentID). It is used only at the crypto level, where the two are the same algorithm
   (msg_signature, AES-256-CBC with the key's first 16 bytes as IV, PKCS#7 to 32 bytes,
   random(16) + length + msg + id): the callback's own signature check and decryption
   (`_open`), and the reply encryptor, with the corp id where the AppId goes.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.parser import parse_message
from wechatpy.utils import WeChatSigner

from bot import db
from bot.config import Config, parse_config
from bot.models import ChannelEvent
from bot.web.app import create_app
from bot.web.callbacks import wechat as wechat_callback
from bot.web.keys import WECHAT_CALLBACK, WECHAT_CLOCK
from bot.wechat.callback import CallbackState
from channels.base import opaque_author
from channels.wechat.messages import classify, parse_xml
from tests.search.test_export import faq
from tests.web.callbacks.test_wechat import AUTHOR_KEY, PATH, comment_for, relay

# -- the official sample (WXBizMsgCrypt Sample.py, decryption half) ---------------------------
TOKEN = "spamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"
TIMESTAMP = "1409735669"
NONCE = "1320562132"
MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6t"
    "EDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3y"
    "ZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl"
    "+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
# What the ciphertext holds (the sample's plaintext).
ACCOUNT = "gh_10f6c3c3ac5a"
OPENID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
CREATE_TIME = 1409735668
CONTENT = "abcdteT"
MSG_ID = 6054768590064713728
PLAINTEXT = (
    f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>\n"
    f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>\n"
    f"<CreateTime>{CREATE_TIME}</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    f"<Content><![CDATA[{CONTENT}]]></Content>\n"
    f"<MsgId>{MSG_ID}</MsgId>\n"
    "</xml>"
)
# The URL's plain signature over (token, timestamp, nonce): not printed in the sample, which
# only decrypts; derived (docs/channels/wechat.md) and checked below.
SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
# The body the sample posts (compatible form: plaintext fields beside Encrypt), and the body of
# safe mode proper (only ToUserName and Encrypt: the text can only come from decrypting).
SAMPLE_BODY = (
    f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
    f"<FromUserName><![CDATA[{OPENID}]]></FromUserName><CreateTime>{CREATE_TIME}</CreateTime>"
    f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{CONTENT}]]></Content>"
    f"<MsgId>{MSG_ID}</MsgId><Encrypt><![CDATA[{{encrypt}}]]></Encrypt></xml>"
)
SAFE_BODY = (
    f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
    "<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
)

# -- wechatpy's vector (WeCom, wechatpy/wechatpy tests/test_crypto.py) -----------------------
W_TOKEN = "123456"
W_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
W_CORP_ID = "wx49f0ab532d5d035a"
W_TIMESTAMP = "1411525903"
W_NONCE = "461056294"
W_MSG_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
W_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTy"
    "eDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYy"
    "olBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWO"
    "MZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7ml"
    "sl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
W_BODY = (
    f"<xml><ToUserName><![CDATA[{W_CORP_ID}]]></ToUserName>\n"
    f"<Encrypt><![CDATA[{W_ENCRYPT}]]></Encrypt>\n<AgentID><![CDATA[1]]></AgentID>\n</xml>"
)
# test_encrypt_message: the reply, its random 16 bytes fixed, and the envelope expected.
W_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
W_RANDOM = "1234567890123456"
W_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGs"
    "L8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSj"
    "PUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJv"
    "FurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYF"
    "MNMpatF9XiKzHo3"
)
W_REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"
# test_check_signature_should_ok: WeCom's URL check (an encrypted echostr) and what it holds.
W_ECHO_STR = (
    "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
)
W_ECHO_PLAIN = "5927782489442352469"


def vector_config(db_url: str, token: str, aes_key: str, app_id: str) -> Config:
    wechat = {"enabled": True, "app_id": app_id, "message_mode": "safe"}
    return parse_config(
        {"database": {"url": db_url}, "channels": {"wechat": wechat}},
        "test",
        environ={
            "GONGKAI_WECHAT_TOKEN": token,
            "GONGKAI_WECHAT_AES_KEY": aes_key,
            "GONGKAI_AUTHOR_KEY": AUTHOR_KEY,
        },
    )


Serve = Callable[..., Any]


@pytest.fixture
def serve(sqlite_url: str) -> Serve:
    """The app for the official sample's account on 127.0.0.1; `now` pins its WECHAT_CLOCK
    (set before the app starts, like nothing in production does)."""

    @asynccontextmanager
    async def _serve(
        now: float | None = None,
    ) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], CallbackState]]:
        config = vector_config(sqlite_url, TOKEN, AES_KEY, APP_ID)
        await db.init(config)
        try:
            app = create_app(config)
            if now is not None:
                app[WECHAT_CLOCK] = lambda: now
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                yield client, app[WECHAT_CALLBACK]
        finally:
            await db.close()

    return _serve


def sample_query(**changes: str) -> dict[str, str]:
    """The query WeChat sends with the sample's message in safe mode."""
    query = {
        "signature": SIGNATURE,
        "timestamp": TIMESTAMP,
        "nonce": NONCE,
        "openid": OPENID,
        "encrypt_type": "aes",
        "msg_signature": MSG_SIGNATURE,
    }
    return query | changes


async def post(
    client: TestClient[web.Request, web.Application],
    body: str = SAFE_BODY,
    encrypt: str = ENCRYPT,
    **query: str,
) -> ClientResponse:
    data = body.format(encrypt=encrypt).encode()
    return await client.post(PATH, params=sample_query(**query), data=data)


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def test_the_sample_values_are_consistent() -> None:
    """The vector as written down: both signatures hold and wechatpy's official-account
    WeChatCrypto opens it to the sample's plaintext (nothing of ours involved yet)."""
    assert sign(TOKEN, TIMESTAMP, NONCE) == SIGNATURE
    assert sign(TOKEN, TIMESTAMP, NONCE, ENCRYPT) == MSG_SIGNATURE
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    opened = crypto.decrypt_message({"Encrypt": ENCRYPT}, MSG_SIGNATURE, TIMESTAMP, NONCE)
    assert opened == PLAINTEXT


@pytest.mark.parametrize("body", [SAFE_BODY, SAMPLE_BODY], ids=["safe-body", "sample-body"])
async def test_the_official_sample_is_accepted_and_reaches_the_inbox(
    serve: Serve, body: str
) -> None:
    async with serve(now=float(TIMESTAMP)) as (client, state):
        resp = await post(client, body)
        assert resp.status == 200 and await resp.text() == "success"  # no FAQ: no auto-reply
        row = await ChannelEvent.get(channel="wechat", key=f"msg:{MSG_ID}")
        assert row.kind == "message" and row.at == datetime.fromtimestamp(CREATE_TIME, UTC)
        assert row.payload["text"] == CONTENT and row.payload["openid"] == OPENID
        await relay(state).wait_idle()
        comment = await comment_for(MSG_ID)
        assert comment.original_text == CONTENT and comment.kind == "message"
        assert comment.author_ref == opaque_author(AUTHOR_KEY.encode(), "wechat", OPENID)
        assert comment.reply_ref["type"] == "custom" and comment.reply_ref["openid"] == OPENID
        assert (await ChannelEvent.get(id=row.id)).handled_at is not None


async def test_the_official_sample_url_check_echoes_with_the_pinned_clock_only(
    serve: Serve,
) -> None:
    query = {"signature": SIGNATURE, "timestamp": TIMESTAMP, "nonce": NONCE, "echostr": "e1"}
    async with serve(now=float(TIMESTAMP) + 299) as (client, _):
        resp = await client.get(PATH, params=query)
        assert resp.status == 200 and await resp.text() == "e1"
    async with serve() as (client, _):
        resp = await client.get(PATH, params=query)
        assert resp.status == 403 and await resp.text() == "时间戳已过期"


async def test_the_official_sample_gets_an_encrypted_auto_reply_the_sample_key_opens(
    serve: Serve,
) -> None:
    async with serve(now=float(TIMESTAMP)) as (client, state):
        entry = await faq(CONTENT, "示例问题的答复。", [CONTENT])
        await state.inbox.refresh_knowledge()  # type: ignore[union-attr]
        resp = await post(client)
        assert resp.status == 200
        text = await resp.text()
        envelope = parse_xml(text)
        assert envelope["Nonce"] == NONCE
        crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
        opened = crypto.decrypt_message(
            text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )
        reply = parse_message(opened)
        base = state.config.app.public_base_url
        assert reply.type == "text"
        assert reply.content == f"示例问题的答复。\n详情：{base}/faq#faq-{entry.id}"
        assert reply.source == ACCOUNT and reply.target == OPENID


async def test_the_official_sample_is_stale_without_the_pinned_clock(serve: Serve) -> None:
    async with serve() as (client, _):  # production's clock: the sample is from 2014
        resp = await post(client)
        assert resp.status == 403 and await resp.text() == "时间戳已过期"
        assert await ChannelEvent.all().count() == 0
    async with serve(now=float(TIMESTAMP) + 301) as (client, _):  # just past max_skew (300 s)
        assert (await post(client)).status == 403
        assert await ChannelEvent.all().count() == 0


def _one_char_changed(index: int) -> str:
    changed = "B" if ENCRYPT[index] == "A" else "A"
    return ENCRYPT[:index] + changed + ENCRYPT[index + 1 :]


# First character: the random bytes and, through CBC, the length field; then within the body;
# then the last block (padding and the AppId trailer).
POSITIONS = [(0, 403), (40, 400), (len(ENCRYPT) - 6, 400)]


@pytest.mark.parametrize(("index", "resigned_status"), POSITIONS)
async def test_the_official_sample_with_one_byte_of_encrypt_changed_is_refused(
    serve: Serve, index: int, resigned_status: int
) -> None:
    tampered = _one_char_changed(index)
    async with serve(now=float(TIMESTAMP)) as (client, _):
        resp = await post(client, encrypt=tampered)  # with the sample's msg_signature
        assert resp.status == 403 and await resp.text() == "消息签名无效"
        # Signed again with the (public) sample token: still refused, by the decryption
        again = await post(
            client, encrypt=tampered, msg_signature=sign(TOKEN, TIMESTAMP, NONCE, tampered)
        )
        assert again.status == resigned_status
        assert await ChannelEvent.all().count() == 0


# -- wechatpy's WeCom vector, at the crypto level ------------------------------------------
UNUSED_DB = "sqlite://:memory:"  # in the config only; these tests never connect


@pytest.fixture
def wecom_state() -> CallbackState:
    """The callback's state built from config as for an official account whose AppId is the
    vector's corp id (the id the plaintext ends with). No database: nothing is stored."""
    state = CallbackState.from_config(vector_config(UNUSED_DB, W_TOKEN, W_AES_KEY, W_CORP_ID))
    assert not state.problem
    return state


def wecom_query(**changes: str) -> dict[str, str]:
    query = {"timestamp": W_TIMESTAMP, "nonce": W_NONCE, "encrypt_type": "aes"}
    return query | {"msg_signature": W_MSG_SIGNATURE} | changes


def test_wechatpy_vector_is_opened_by_the_callbacks_own_check_and_decryption(
    wecom_state: CallbackState,
) -> None:
    fields, encrypted = wechat_callback._open(wecom_state, wecom_query(), W_BODY.encode())
    assert encrypted
    assert fields["Content"] == "test" and fields["FromUserName"] == "messense"
    received = classify(fields)
    assert received.key == "msg:4363689963896700987" and received.is_message
    assert received.payload["text"] == "test" and received.payload["openid"] == "messense"


def test_wechatpy_vector_tampered_or_for_another_id_is_refused(
    wecom_state: CallbackState,
) -> None:
    tampered = W_BODY.replace(W_ENCRYPT, "S" + W_ENCRYPT[1:]).encode()  # one byte changed
    for state, query, body, reason in [
        (wecom_state, wecom_query(), tampered, "消息签名无效"),
        (wecom_state, wecom_query(nonce="461056295"), W_BODY.encode(), "消息签名无效"),
        # The right signature and key, but the plaintext ends with another id than our AppId
        (other_account(), wecom_query(), W_BODY.encode(), "AppID"),
    ]:
        with pytest.raises(web.HTTPForbidden) as refused:
            wechat_callback._open(state, query, body)
        assert reason in str(refused.value.text)


def other_account() -> CallbackState:
    return CallbackState.from_config(vector_config(UNUSED_DB, W_TOKEN, W_AES_KEY, APP_ID))


def test_wechatpy_vector_reply_and_echostr_match_the_callbacks_crypto(
    wecom_state: CallbackState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply encryptor the callback answers with (state.crypto, the official-account
    class) gives wechatpy's expected envelope once its random bytes are fixed, and the
    callback's cipher opens WeCom's encrypted echostr: the same layout byte for byte."""
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: W_RANDOM)
    assert wecom_state.crypto is not None and wecom_state.cipher is not None
    envelope = parse_xml(wecom_state.crypto.encrypt_message(W_REPLY, W_NONCE, W_TIMESTAMP))
    assert envelope["Encrypt"] == W_REPLY_ENCRYPT
    assert envelope["MsgSignature"] == W_REPLY_SIGNATURE
    assert envelope["TimeStamp"] == W_TIMESTAMP and envelope["Nonce"] == W_NONCE
    assert sign(W_TOKEN, "1411443780", "437374425", W_ECHO_STR) == (
        "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    )
    assert wecom_state.cipher.decrypt(W_ECHO_STR, W_CORP_ID) == W_ECHO_PLAIN
    key = base64.b64decode(W_AES_KEY + "=")
    assert wecom_state.crypto.key == key and len(key) == 32
