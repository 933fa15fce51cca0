"""A Word document (read by bot/items/wordfile.py) made a draft: its pictures stored as uploads
with the console's own checks (bot/items/media.py), the item created by bot/items/lifecycle.py,
and the import audited. The command line and the console both come here.

A refusal at any step leaves nothing behind: the pictures this import stored are removed
again (a picture stored before, by anyone, stays). One race remains: the same picture
uploaded by someone else between this import's save and its removal loses its file; both
would have to happen within the moment an import is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.config import Config
from bot.items import lifecycle
from bot.items.itemfile import FIELD_LABELS
from bot.items.media import MediaError, MediaStore, StoredMedia, display_name
from bot.items.schemas import ItemCreate, field_errors
from bot.items.wordfile import WordFileError, WordItem
from bot.models import Item, Kind, Role
from moderation.findings import LinkCheck


@dataclass(frozen=True)
class Imported:
    item: Item
    word: WordItem
    images: tuple[StoredMedia, ...]

    def summary(self) -> str:
        """What was found, for the person who imported it (Chinese, one sentence)."""
        parts = [f"标题取自{self.word.title_from}"]
        if self.word.doc_number:
            parts.append(f"文号 {self.word.doc_number}")
        if self.word.written_on is not None:
            parts.append(f"成文日期 {self.word.written_on.isoformat()}")
        if self.images:
            parts.append(f"图片 {len(self.images)} 张")
        return "，".join(parts)


async def create_from_word(
    word: WordItem,
    kind: Kind,
    actor: Actor,
    config: Config,
    store: MediaStore,
    *,
    column: str | None = None,
    links: LinkCheck | None = None,
) -> Imported:
    """Store the pictures, then create the draft; on any refusal remove what was stored."""
    actor.require(Role.EDITOR)  # before a picture is stored
    stored: list[StoredMedia] = []
    try:
        for image in word.images:
            try:
                stored.append(store.save(image.filename, image.data))
            except MediaError as exc:
                raise WordFileError(
                    f"「{word.source}」中的第 {image.number} 张图片未能保存：{exc}"
                ) from exc
        urls = {image.placeholder: s.url for image, s in zip(word.images, stored, strict=True)}
        data = _validated(word, {**word.fields(urls), "kind": kind.value, "column": column})
        item = await lifecycle.create_item(data, actor, config, links)
    except BaseException:
        for s in stored:
            store.discard(s)
        raise
    details: dict[str, Any] = {
        "file": display_name(word.source, "docx"),
        "title_from": word.title_from,
        "images": [{"name": s.name, "new": s.created} for s in stored],
    }
    async with in_transaction() as conn:
        await audit.record(conn, actor.name, "item.import", "item", item.id, details)
    return Imported(item, word, tuple(stored))


def _validated(word: WordItem, data: dict[str, Any]) -> ItemCreate:
    try:
        return ItemCreate.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in field_errors(exc):
            key = err["field"].split(".")[0]
            label = FIELD_LABELS.get(key, key)
            problems.append(f"{label}（{err['field']}）{err['message']}")
        raise WordFileError(f"「{word.source}」：{'；'.join(problems)}。") from exc
