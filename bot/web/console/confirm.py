"""The console's confirmation step for what cannot be taken back (撤稿, 发送答复, 选登 and the
审签 that sends or publishes): the first POST of such a form changes nothing and answers a page
that says exactly what will happen; only the same fields posted again with confirmed=1 (and the
session's CSRF token) act. The page is a form of hidden fields, so it works without scripts.

A handler checks first and asks second:

    if not await confirm.confirmed(ctx):
        return await confirm.ask(ctx, Confirmation(...))  # built from a read-only check
    ...act...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.web.console.core import Ctx
from bot.web.console.csrf import FIELD as CSRF_FIELD

CONFIRMED = "confirmed"


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page says."""

    title: str  # the heading, e.g. 确认撤稿
    consequence: str  # the one sentence that names what will happen
    button: str  # the button that does it, e.g. 确认撤稿
    back: str  # where 取消 goes: the page the form was on
    facts: Sequence[tuple[str, str]] = ()  # further points, as (label, value)
    quotes: Sequence[tuple[str, str]] = ()  # texts shown whole as they will go out: (label, text)
    notes: Sequence[str] = ()  # what to know before confirming (warnings)
    danger: bool = False  # the button looks like a destructive one


async def confirmed(ctx: Ctx) -> bool:
    """Whether this POST is the confirmed one (the confirmation page's 确认)."""
    return (await ctx.form()).get(CONFIRMED) == "1"


async def ask(ctx: Ctx, confirmation: Confirmation) -> web.Response:
    """The confirmation page: the consequences and a form posting the same fields to the same
    path again, with confirmed=1 and the session's CSRF token."""
    form = await ctx.form()
    fields = [
        (name, value)
        for name, value in form.items()
        if isinstance(value, str) and name not in (CSRF_FIELD, CONFIRMED)
    ]
    return await ctx.render(
        "console/confirm.html",
        c=confirmation,
        action=ctx.request.path,
        fields=fields,
        confirmed_field=CONFIRMED,
    )
