"""The WeChat simulator holds to docs/channels/wechat.md where the channel once misread it: the
JSON types of freepublish/submit's and sendall's ids, comments kept per (msg_data_id, index) with
88001 for an article_id, the 发表 and 群发 copies apart, clientmsgid's 45066 and 45065, and
stable_token's 30 s between forced refreshes (on the simulator's clock); the channel asks for no
second forced refresh within 30 s. One test drives the simulator with wechatpy's own client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from channels.base import RateLimited
from channels.sandbox.wechat import WechatSimulator
from tests.channels.test_wechat import APP_ID as ENV_APP_ID
from tests.channels.test_wechat import JPEG, WechatEnv, make_env
from tests.channels.test_wechat import SECRET as ENV_SECRET

APP_ID, SECRET = "wx-rules", "rules-secret"

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


class Api:
    """Plain JSON calls to the simulator, as WeChat's documentation writes them."""

    def __init__(self, sim: WechatSimulator, server: TestServer, http: aiohttp.ClientSession):
        self.sim, self.server, self.http = sim, server, http
        self.token = ""

    async def stable_token(self, force: bool = False) -> dict[str, Any]:
        body = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
        url = self.server.make_url("/cgi-bin/stable_token")
        async with self.http.post(url, json={**body, "force_refresh": force}) as resp:
            answer: dict[str, Any] = await resp.json()
        self.token = answer.get("access_token", self.token)
        return answer

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not self.token:
            await self.stable_token()
        url = self.server.make_url(f"/cgi-bin/{path}")
        async with self.http.post(url, params={"access_token": self.token}, json=body) as resp:
            answer: dict[str, Any] = await resp.json()
        return answer

    async def draft(self, titles: list[str]) -> str:
        form = aiohttp.FormData()
        form.add_field("media", JPEG, filename="cover.jpg", content_type="image/jpeg")
        url = self.server.make_url("/cgi-bin/material/add_material")
        query = {"access_token": self.token, "type": "image"}
        async with self.http.post(url, params=query, data=form) as resp:
            thumb = (await resp.json())["media_id"]
        articles = [{"title": t, "content": f"<p>{t}</p>", "thumb_media_id": thumb} for t in titles]
        return str((await self.call("draft/add", {"articles": articles}))["media_id"])

    async def sendall(self, media_id: str, clientmsgid: str = "c-1") -> dict[str, Any]:
        body = {
            "filter": {"is_to_all": True},
            "mpnews": {"media_id": media_id},
            "msgtype": "mpnews",
            "send_ignore_reprint": 0,
            "clientmsgid": clientmsgid,
        }
        return await self.call("message/mass/sendall", body)

    async def published(self, title: str) -> tuple[dict[str, Any], str]:
        """freepublish/submit's answer and, once the job is done, the article_id."""
        submitted = await self.call("freepublish/submit", {"media_id": await self.draft([title])})
        for _ in range(100):
            pub = self.sim.ledger.publications[submitted["publish_id"]]
            if pub["status"] == 0:
                return submitted, str(pub["article_id"])
            await asyncio.sleep(0.01)
        raise AssertionError("the publish job did not finish")


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    # A fixed start at Beijing noon: the daily quotas reset at Beijing midnight, which a test
    # advancing the clock by minutes must not cross whatever the hour it runs at.
    sim = WechatSimulator(APP_ID, SECRET, clock=lambda: NOON)
    server = TestServer(sim.app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(sim, server, http)
            await api.stable_token()
            yield api
    finally:
        await server.close()


def comment_list(msg_data_id: Any, index: int = 0) -> dict[str, Any]:
    return {"msg_data_id": msg_data_id, "index": index, "begin": 0, "count": 49, "type": 0}


async def test_ids_come_back_with_the_documented_json_types(api: Api) -> None:
    submitted, _ = await api.published("发表")
    # freepublish/submit: publish_id and msg_data_id are strings [S16].
    assert isinstance(submitted["publish_id"], str)
    assert isinstance(submitted["msg_data_id"], str) and submitted["msg_data_id"].isdigit()
    # sendall: msg_id and msg_data_id are numbers, as live answers show [S38].
    sent = await api.sendall(await api.draft(["群发"]))
    assert sent["errcode"] == 0
    assert isinstance(sent["msg_id"], int) and isinstance(sent["msg_data_id"], int)


async def test_a_freepublish_article_id_used_as_msg_data_id_gets_88001(api: Api) -> None:
    submitted, article_id = await api.published("关于开展政务公开日活动的通知")
    copy = api.sim.msg_data_id_of(article_id)
    assert str(copy) == submitted["msg_data_id"]
    api.sim.add_comment(copy, "o_reader", "何时举办？")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("comment/list", {"begin": 0, "count": 49, "type": 0}),
        ("comment/reply/add", {"user_comment_id": 1, "content": "答复"}),
        ("comment/markelect", {"user_comment_id": 1}),
        ("comment/open", {}),
    ]
    for path, extra in calls:
        answer = await api.call(path, {"msg_data_id": article_id, "index": 0, **extra})
        assert answer["errcode"] == 88001, (path, answer)
    with pytest.raises(ValueError, match="msg_data is not exists"):
        api.sim.add_comment(article_id, "o_reader", "写在 article_id 下的留言")
    # The 发表's own msg_data_id (string or number) and index 0 reach the comment.
    for key in (copy, str(copy)):
        listed = await api.call("comment/list", comment_list(key))
        assert [c["content"] for c in listed["comment"]] == ["何时举办？"]
    # index is 0-based: index 1 of a one-article 图文 does not exist.
    assert (await api.call("comment/list", comment_list(copy, 1)))["errcode"] == 88001


async def test_the_mass_sent_and_the_published_copy_keep_their_own_comments(api: Api) -> None:
    _, article_id = await api.published("通知")
    published = api.sim.msg_data_id_of(article_id)
    mass = (await api.sendall(await api.draft(["通知", "解读"])))["msg_data_id"]
    assert mass != published
    api.sim.add_comment(published, "o_a", "发表版留言")
    api.sim.add_comment(mass, "o_b", "群发版留言，第一篇")
    api.sim.add_comment(mass, "o_c", "群发版留言，第二篇", index=1)
    texts = {}
    for key in [(published, 0), (mass, 0), (mass, 1)]:
        listed = await api.call("comment/list", comment_list(*key))
        texts[key] = [c["content"] for c in listed["comment"]]
    assert texts == {
        (published, 0): ["发表版留言"],
        (mass, 0): ["群发版留言，第一篇"],
        (mass, 1): ["群发版留言，第二篇"],
    }
    # Each list numbers its own comments: a reply lands on the copy it names.
    reply = {"msg_data_id": mass, "index": 0, "user_comment_id": 1, "content": "谢谢关注"}
    assert (await api.call("comment/reply/add", reply))["errcode"] == 0
    assert "reply" in api.sim.ledger.comments[f"{mass}:0"][0]
    assert "reply" not in api.sim.ledger.comments[f"{published}:0"][0]


async def test_same_clientmsgid_within_a_minute_is_45066_then_45065_with_the_first_msg_id(
    api: Api,
) -> None:
    media_id = await api.draft(["通知"])
    first = await api.sendall(media_id)
    assert first["errcode"] == 0
    api.sim.advance(59)
    assert (await api.sendall(media_id))["errcode"] == 45066
    api.sim.advance(59)  # a minute is counted from the last request with that clientmsgid
    assert (await api.sendall(media_id))["errcode"] == 45066
    api.sim.advance(60)
    again = await api.sendall(media_id)
    assert (again["errcode"], again["msg_id"]) == (45065, first["msg_id"])
    assert len(api.sim.ledger.mass_sends) == 1
    # Another clientmsgid is another send (here: refused by the one-a-day quota).
    assert (await api.sendall(media_id, "c-2"))["errcode"] == 45028


async def test_force_refresh_waits_30_seconds_and_is_allowed_20_times_a_day(api: Api) -> None:
    assert "access_token" in await api.stable_token(force=True)
    api.sim.advance(29)
    # "否则不会刷新" [S1][S3]; 45011 is the page's closest errcode (unconfirmed).
    assert (await api.stable_token(force=True))["errcode"] == 45011
    assert (api.sim.ledger.force_refreshes, api.sim.ledger.force_refused) == (1, 1)
    for _ in range(19):
        api.sim.advance(30)
        assert "access_token" in await api.stable_token(force=True)
    api.sim.advance(30)
    assert (await api.stable_token(force=True))["errcode"] == 45009  # the 21st today
    api.sim.next_day()
    assert "access_token" in await api.stable_token(force=True)


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url):
        yield e


async def test_channel_asks_for_no_second_forced_refresh_within_30_seconds(
    env: WechatEnv,
) -> None:
    channel = env.channel()
    await channel.start()
    try:
        env.sim.faults.fail("draft/batchget", 40001)  # the token refused: one forced refresh
        assert await channel.find_draft("https://example.org/none") is None
        assert env.sim.ledger.force_refreshes == 1
        env.sim.faults.fail("draft/batchget", 40001)  # refused again, seconds later
        with pytest.raises(RateLimited, match="30 秒") as refused:
            await channel.find_draft("https://example.org/none")
        assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 30
        assert (env.sim.ledger.force_refreshes, env.sim.ledger.force_refused) == (1, 0)
    finally:
        await channel.close()


async def test_a_forced_refresh_wechat_refuses_falls_back_to_the_live_token(
    env: WechatEnv,
) -> None:
    channel = env.channel()
    await channel.start()
    try:
        assert await channel.find_draft("https://example.org/none") is None
        # Someone else holding the AppSecret forces a refresh: our token stops working, and
        # WeChat refuses our own forced refresh for 30 s; normal mode gives the new token.
        async with aiohttp.ClientSession() as http:
            url = f"{env.config.channels.wechat.api_base_url}/cgi-bin/stable_token"
            body: dict[str, Any] = {"grant_type": "client_credential", "appid": ENV_APP_ID}
            body.update(secret=ENV_SECRET, force_refresh=True)
            async with http.post(url, json=body) as resp:
                assert "access_token" in await resp.json()
        assert await channel.find_draft("https://example.org/none") is None
        assert (env.sim.ledger.force_refreshes, env.sim.ledger.force_refused) == (1, 1)
    finally:
        await channel.close()


async def test_wechatpy_lists_and_answers_comments_by_the_msg_data_id_sendall_returned(
    api: Api,
) -> None:
    client = WeChatClient(APP_ID, SECRET, access_token=api.token)
    client.API_BASE_URL = str(api.server.make_url("/cgi-bin/"))  # in place of api.weixin.qq.com

    def send_and_read() -> dict[str, Any]:
        thumb = client.material.add("image", ("cover.jpg", JPEG, "image/jpeg"))["media_id"]
        article = {"title": "通知", "content": "<p>通知</p>", "thumb_media_id": thumb}
        media_id = client.draft.add([article])["media_id"]
        sent = client.message.send_mass_article(media_id, is_to_all=True, client_msg_id="wp-1")
        api.sim.add_comment(sent["msg_data_id"], "o_reader", "请问报名方式？")
        # wechatpy's index defaults to 1, the second article; the first is index 0 [S32].
        listed = client.material.list_comment(sent["msg_data_id"], index=0, begin=0, count=49)
        (comment,) = listed["comment"]
        client.material.add_reply_comment(
            sent["msg_data_id"], 0, comment["user_comment_id"], "请在线报名。"
        )
        with pytest.raises(WeChatClientException) as default_index:
            client.material.list_comment(sent["msg_data_id"], count=49)
        with pytest.raises(WeChatClientException) as wrong_id:
            client.material.list_comment(str(sent["msg_id"]), index=0, count=49)
        return {
            "sent": sent,
            "comment": comment,
            "errcodes": (default_index.value.errcode, wrong_id.value.errcode),
        }

    got = await asyncio.to_thread(send_and_read)
    assert got["comment"]["content"] == "请问报名方式？"
    assert got["errcodes"] == (88001, 88001)  # index 1 does not exist; a msg_id is no msg_data_id
    stored = api.sim.ledger.comments[f"{got['sent']['msg_data_id']}:0"][0]
    assert stored["reply"]["content"] == "请在线报名。"


def wechatpy_client(api: Api) -> WeChatClient:
    client = WeChatClient(APP_ID, SECRET, access_token=api.token)
    client.API_BASE_URL = str(api.server.make_url("/cgi-bin/"))  # in place of api.weixin.qq.com
    return client


def errcode_of(call: Any) -> int:
    with pytest.raises(WeChatClientException) as refused:
        call()
    return int(refused.value.errcode)


async def test_wechatpy_drafts_over_the_documented_limits_are_refused(api: Api) -> None:
    """draft/add's limits [S9][S10]: title 32, author 16, digest 128 characters, content under
    20,000 characters, content_source_url up to 1 KB; the codes are the global table's."""
    client = wechatpy_client(api)

    def attempt() -> dict[str, Any]:
        thumb = client.material.add("image", ("cover.jpg", JPEG, "image/jpeg"))["media_id"]
        fine = {"title": "题" * 32, "content": "<p>正文</p>", "thumb_media_id": thumb}
        fine.update(author="作" * 16, digest="摘" * 128)

        def draft(**change: Any) -> Any:
            return lambda: client.draft.add([{**fine, **change}])

        return {
            "fine": client.draft.add([fine])["media_id"],
            "title": errcode_of(draft(title="题" * 33)),
            "author": errcode_of(draft(author="作" * 17)),
            "digest": errcode_of(draft(digest="摘" * 129)),
            "content": errcode_of(draft(content="<p>" + "字" * 19_993 + "</p>")),
            "source": errcode_of(draft(content_source_url="https://a.cn/?" + "q" * 1011)),
            "thumb": errcode_of(draft(thumb_media_id="not-a-material")),
            "nine": errcode_of(lambda: client.draft.add([fine] * 9)),
        }

    got = await asyncio.to_thread(attempt)
    assert got.pop("fine")
    assert got == {
        "title": 45003,
        "author": 45110,
        "digest": 45004,
        "content": 45002,
        "source": 41039,
        "thumb": 40007,
        "nine": 45008,
    }
    assert len(api.sim.ledger.drafts) == 1
    # The limits are the simulator's configuration: a deployment's stricter page is one change.
    api.sim.draft_limits.title = 20
    answer = await api.call("draft/add", {"articles": [{"title": "题" * 21, "content": "x"}]})
    assert answer["errcode"] == 45003


async def test_wechatpy_thumbs_are_jpg_up_to_64_kb_and_the_library_has_a_quota(api: Api) -> None:
    """material/add_material [S6]: a thumb is a JPG of at most 64 KB (40005 for a PNG, 40012
    for a larger one); an image may be a PNG; the library holds a settable number of each type;
    del_material frees a place; get_materialcount is GET and counts them [S7][S8]."""
    client = wechatpy_client(api)
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    big_jpeg = JPEG[:-2] + bytes(65 * 1024) + b"\xff\xd9"
    api.sim.quotas.materials["image"] = 2

    def attempt() -> dict[str, Any]:
        out: dict[str, Any] = {
            "png_thumb": errcode_of(lambda: client.material.add("thumb", ("c.png", png))),
            "big_thumb": errcode_of(lambda: client.material.add("thumb", ("c.jpg", big_jpeg))),
            "thumb": client.material.add("thumb", ("c.jpg", JPEG))["media_id"],
        }
        first = client.material.add("image", ("c.png", png))["media_id"]
        client.material.add("image", ("c.jpg", big_jpeg))
        out["full"] = errcode_of(lambda: client.material.add("image", ("d.jpg", JPEG)))
        out["count"] = client.material.get_count()
        client.material.delete(first)
        out["again"] = client.material.add("image", ("d.jpg", JPEG))["media_id"]
        out["gone"] = errcode_of(lambda: client.material.delete(first))
        return out

    got = await asyncio.to_thread(attempt)
    assert (got["png_thumb"], got["big_thumb"]) == (40005, 40012)
    assert got["thumb"] and got["again"]
    assert got["full"] == -1  # the errcode of a full library is documented nowhere
    assert got["count"]["image_count"] == 2 and got["count"]["news_count"] == 0
    assert got["gone"] == 40007
    assert len(api.sim.ledger.materials) == 3  # two images and the thumb


async def test_each_endpoint_answers_only_its_documented_method(api: Api) -> None:
    """draft/count and material/get_materialcount are GET [S8][S12]; the rest POST. The wrong
    method is 43001 / 43002 [S40]; wechatpy's own calls use the right ones."""
    url = api.server.make_url("/cgi-bin/draft/count")
    async with api.http.post(url, params={"access_token": api.token}, json={}) as resp:
        assert (await resp.json())["errcode"] == 43001
    url = api.server.make_url("/cgi-bin/draft/add")
    async with api.http.get(url, params={"access_token": api.token}) as resp:
        assert (await resp.json())["errcode"] == 43002
    await api.draft(["通知"])
    client = wechatpy_client(api)
    counted = await asyncio.to_thread(client.draft.count)
    assert counted["total_count"] == 1


async def test_wechatpy_deletes_a_mass_message_and_its_comments_go(api: Api) -> None:
    """message/mass/delete {msg_id, article_idx} [S27]: article_idx is 1-based and absent
    deletes the whole message (wechatpy sends none); the deleted articles' comments answer
    88001; an article_idx past the message is 40060, an unknown msg_id 40059."""
    sent = await api.sendall(await api.draft(["通知", "解读", "图解"]))
    mass = sent["msg_data_id"]
    for index in range(3):
        api.sim.add_comment(mass, "o_reader", f"第 {index + 1} 篇的留言", index)
    one = await api.call("message/mass/delete", {"msg_id": sent["msg_id"], "article_idx": 2})
    assert one["errcode"] == 0
    listed = [(await api.call("comment/list", comment_list(mass, i)))["errcode"] for i in range(3)]
    assert listed == [0, 88001, 0]  # the second article (index 1 in comment/*) is gone
    past = {"msg_id": sent["msg_id"], "article_idx": 4}
    assert (await api.call("message/mass/delete", past))["errcode"] == 40060
    assert (await api.call("message/mass/delete", {"msg_id": 1}))["errcode"] == 40059
    client = wechatpy_client(api)
    await asyncio.to_thread(client.message.delete_mass, sent["msg_id"])
    listed = [(await api.call("comment/list", comment_list(mass, i)))["errcode"] for i in range(3)]
    assert listed == [88001, 88001, 88001]
