"""Article covers as WeChat permanent material: one `image` material per distinct picture (by the
SHA-256 of its bytes), reused by every article that shows it, and deleted once no live article
uses it any more.

Why `image` and not `thumb`: draft/add's thumb_media_id must be a permanent material; type
`thumb` takes only JPG up to 64 KB and its library holds 1000, type `image` takes bmp, png,
jpeg, jpg and gif up to 10 MB in a library of 100,000 (docs/channels/wechat.md "Limits and
quotas", [S6][S8][S9]). A new material per article would fill either library in time.

Which covers are kept, and which articles still use them, is the CoverStore's business (the
database, bot/outbox/channel_state.py); this module calls WeChat.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Protocol

from channels.base import ChannelError
from channels.wechat.api import Upload, WechatApi, WechatError
from channels.wechat.errors import classify

log = logging.getLogger(__name__)
MATERIAL_TYPE = "image"
MISSING = 40007  # invalid media_id: the material is not (any more) in the library [S7]


class CoverStore(Protocol):
    async def find(self, digest: str) -> str | None:
        """The media_id kept for the picture with this SHA-256 (hex), or None."""

    async def keep(self, digest: str, media_id: str) -> str:
        """Remember media_id for digest unless another process was first: the media_id that is
        kept (ours, or the earlier one)."""

    async def forget(self, media_id: str) -> None:
        """No article takes media_id from now on (it is deleted, or about to be)."""

    async def unused(self, gone: str) -> list[str]:
        """Kept covers that no article in use refers to (published and not retracted, or on its
        way), counting the article `gone` (an article_id being retracted) as not in use."""


class Covers:
    def __init__(self, api: WechatApi, store: CoverStore) -> None:
        self.api = api
        self.store = store

    async def media_id(self, upload: Upload) -> str:
        """The permanent material showing this picture: the kept one, or a new upload."""
        digest = hashlib.sha256(upload.data).hexdigest()
        known = await self.store.find(digest)
        if known is not None:
            return known
        params = {"type": MATERIAL_TYPE}
        answer = await self.api.call("material/add_material", params=params, upload=upload)
        mine = str(answer["media_id"])
        kept = await self.store.keep(digest, mine)
        if kept != mine:  # another delivery uploaded the same picture at the same moment
            await self._delete(mine)
        return kept

    async def forget(self, media_id: str) -> None:
        """A kept cover WeChat no longer has (draft/add answered 40007): upload it again."""
        await self.store.forget(media_id)

    async def release_unused(self, gone: str) -> list[str]:
        """Delete from WeChat the kept covers no article uses once article `gone` is retracted;
        their media_ids. A failure is logged and left for the next retraction: nothing
        depends on it. A delivery that took a cover just before it was deleted finds it gone at
        draft/add (40007) and uploads it again (WechatChannel._draft)."""
        released = []
        for media_id in await self.store.unused(gone):
            await self.store.forget(media_id)  # first, so that no new article takes it
            try:
                await self._delete(media_id)
            except ChannelError as exc:
                log.warning("wechat cover %s not deleted (%s): left in the library", media_id, exc)
                continue
            released.append(media_id)
        return released

    async def _delete(self, media_id: str) -> None:
        try:
            await self.api.call("material/del_material", {"media_id": media_id}, raw=True)
        except WechatError as exc:
            if exc.errcode != MISSING:  # already gone is what we wanted
                raise classify(exc.errcode, exc.errmsg, "material/del_material") from exc
