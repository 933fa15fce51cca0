"""The layout holds: no import circles (imports inside functions and under TYPE_CHECKING
counted), the walls between top-level folders, one owner of delivery rows and one role check
(DESIGN.md, "Layout"; docs/architecture.md). Each checker is also shown to catch what it
forbids, on a fixture package or on source written here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.models import Delivery
from tests.architecture.import_graph import Import, build_graph, circles, describe
from tests.architecture.owners import model_writes, role_decisions

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "channels", "moderation", "scheduler")
FIXTURE = "tests/architecture/fixtures/circular"
# The shared modules that stand directly in bot/ (DESIGN.md); everything else is in a package.
SHARED = {
    "actors",
    "audit",
    "config",
    "db",
    "db_sqlite",
    "errors",
    "logs",
    "metrics",
    "models",
    "runner",
    "timeutil",
    "users",
}


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return build_graph(ROOT, PACKAGES)


def _sources(*packages: str) -> list[tuple[str, Path]]:
    out = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # generated history, never run by the app after it is applied
            out.append((str(path.relative_to(ROOT)), path))
    return out


def test_the_project_has_no_import_circle(graph: dict[str, list[Import]]) -> None:
    found = circles(graph)
    assert not found, "\n\n".join(describe(c, graph) for c in found)


def test_the_circle_check_finds_a_loop_through_function_type_checking_and_relative_imports() -> (
    None
):
    fixture = build_graph(ROOT, [FIXTURE])
    found = circles(fixture)
    prefix = FIXTURE.replace("/", ".")
    assert found == [[f"{prefix}.first", f"{prefix}.second", f"{prefix}.third"]]
    text = describe(found[0], fixture)
    assert f"{prefix}.first -> {prefix}.second" in text  # the import inside use()
    assert f"{prefix}.second -> {prefix}.third" in text  # under TYPE_CHECKING
    assert f"{prefix}.third -> {prefix}.first" in text  # `from . import first`


def _imports_from(graph: dict[str, list[Import]], source: str, target: str) -> list[str]:
    return [
        f"{e.source} -> {e.target} ({e.path.relative_to(ROOT)}:{e.line})"
        for name, edges in graph.items()
        if name == source or name.startswith(source + ".")
        for e in edges
        if e.target == target or e.target.startswith(target + ".")
    ]


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("channels", "bot"),
        ("moderation", "bot"),
        ("moderation", "channels"),
        ("scheduler", "bot.web"),
        ("bot.matters", "bot.web"),
        ("bot.matters", "bot.cli"),
        ("bot.matters", "scheduler"),
        ("bot.inbox", "bot.matters"),
        ("channels.wechat", "channels.suishenban"),
        ("channels.suishenban", "channels.wechat"),
        ("channels.feed", "channels.wechat"),
        ("channels.webhook", "channels.wechat"),
        ("channels.feed", "channels.suishenban"),
        ("channels.webhook", "channels.suishenban"),
    ],
)
def test_a_wall_of_the_layout_is_not_crossed(
    graph: dict[str, list[Import]], source: str, target: str
) -> None:
    assert _imports_from(graph, source, target) == []


def test_the_dispatcher_knows_channels_only_through_their_protocol(
    graph: dict[str, list[Import]],
) -> None:
    allowed = {"channels.base", "channels.pacing"}
    crossing = [
        e.target
        for e in graph["bot.outbox.dispatcher"]
        if e.target.startswith("channels.") and e.target not in allowed
    ]
    assert crossing == []


def _route_modules() -> set[str]:
    """Web modules that add routes: they define setup(), ROUTES or OPEN_ROUTES."""
    found = set()
    for rel, path in _sources("bot/web"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        } | {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign | ast.AnnAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Name)
        }
        if names & {"setup", "ROUTES", "OPEN_ROUTES"}:
            found.add(rel.removesuffix(".py").replace("/", "."))
    return found


def test_only_the_app_imports_route_modules_and_keys_import_none(
    graph: dict[str, list[Import]],
) -> None:
    routes = _route_modules()
    assert {"bot.web.public.pages", "bot.web.console.queue", "bot.web.api.routes"} <= routes
    importers = sorted(
        f"{e.source} -> {e.target}"
        for edges in graph.values()
        for e in edges
        if e.target in routes and e.source != "bot.web.app"
    )
    assert importers == []
    assert [e.target for e in graph["bot.web.keys"] if e.target in routes] == []


def test_bot_holds_only_the_shared_modules_directly() -> None:
    loose = sorted(
        p.stem for p in (ROOT / "bot").glob("*.py") if p.stem != "__init__" and p.stem not in SHARED
    )
    assert loose == []


def test_every_package_says_what_lives_there() -> None:
    missing = [
        str(p.relative_to(ROOT))
        for package in PACKAGES
        for p in (ROOT / package).rglob("__init__.py")
        if "migrations" not in p.parts and not ast.get_docstring(ast.parse(p.read_text("utf-8")))
    ]
    assert missing == []


def _delivery_writers(packages: tuple[str, ...]) -> list[str]:
    table = Delivery._meta.db_table
    return [
        f"{rel}:{place.line}: {place.what}"
        for rel, path in _sources(*packages)
        if not rel.startswith("bot/outbox/")
        for place in model_writes(path.read_text(encoding="utf-8"), "Delivery", table)
    ]


def test_only_the_outbox_package_writes_delivery_rows() -> None:
    assert _delivery_writers(PACKAGES) == []


@pytest.mark.parametrize(
    "source",
    [
        "await Delivery.filter(id=1).using_db(conn).update(status='cancelled')",
        "await Delivery.bulk_create([Delivery(item_id=1)])",
        "await Delivery.create(item_id=1)",
        "TABLE = Delivery._meta.db_table\nq = f'UPDATE {TABLE} SET status = ? WHERE id = ?'",
        "q = f'DELETE FROM {Delivery._meta.db_table} WHERE id = ?'",
        "q = 'INSERT INTO \"delivery\" (item_id) VALUES (?)'",
    ],
)
def test_the_delivery_writer_check_catches_orm_and_sql_writes(source: str) -> None:
    assert list(model_writes(source, "Delivery", "delivery"))


def test_the_delivery_writer_check_lets_reads_through() -> None:
    reads = (
        "rows = await Delivery.filter(item_id=1).values_list('channel', flat=True)\n"
        "q = f'SELECT channel FROM {Delivery._meta.db_table} WHERE status = ?'\n"
        "n = await Delivery.filter(status='dead').count()\n"
    )
    assert list(model_writes(reads, "Delivery", "delivery")) == []


def test_roles_are_decided_in_one_place() -> None:
    found = [
        f"{rel}:{place.line}: {place.what}"
        for rel, path in _sources(*PACKAGES)
        if rel != "bot/actors.py"
        for place in role_decisions(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "if Role.ADMIN.value not in actor.roles: raise X",
        "ok = {'moderator', 'admin'} & set(user.roles)",
        "ok = frozenset(token.roles).intersection(user.roles)",
    ],
)
def test_the_role_check_finds_a_second_check(source: str) -> None:
    assert list(role_decisions(source))
