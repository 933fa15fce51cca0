"""Who writes what, read from source with `ast`: the places that write delivery rows (through
the ORM or in SQL naming the table) and the places that decide on roles. tests/architecture
holds the project to one owner of each (DESIGN.md, "Layout"; docs/architecture.md)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

# ORM calls that write rows, on the model class or on a queryset made from it.
ORM_WRITES = frozenset(
    {
        "create",
        "bulk_create",
        "bulk_update",
        "update",
        "delete",
        "get_or_create",
        "update_or_create",
        "select_for_update",
        "raw",
    }
)
SQL_WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s*$", re.IGNORECASE)
SQL_WRITE_LITERAL = r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?{table}\b"


@dataclass(frozen=True)
class Place:
    line: int
    what: str


def _root_name(node: ast.expr) -> str | None:
    """The name a chain of calls and attributes starts from: `Delivery` in
    `Delivery.filter(...).using_db(conn).update(...)`."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Await):
            node = node.value
        else:
            return node.id if isinstance(node, ast.Name) else None


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def model_writes(source: str, model: str, table: str) -> Iterator[Place]:
    """Where `source` writes rows of `model` (whose table is `table`): ORM writes on the model
    or a queryset of it, instances made to be saved, and SQL that inserts, updates or deletes
    in its table, literally or through a name bound to `model._meta.db_table`."""
    tree = ast.parse(source)
    # Names bound to the model's table (TABLE = Delivery._meta.db_table) and the model itself.
    table_names = {model}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _mentions(node.value, {model}):
            if "_meta" in ast.unparse(node.value):
                table_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    literal = re.compile(SQL_WRITE_LITERAL.format(table=re.escape(table)), re.IGNORECASE)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == model:
                yield Place(node.lineno, f"{model}(...) made to be saved")
            elif (
                isinstance(func, ast.Attribute)
                and func.attr in ORM_WRITES
                and _root_name(func.value) == model
            ):
                yield Place(node.lineno, f"{model}….{func.attr}()")
        elif isinstance(node, ast.JoinedStr):
            text = ""
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    text += part.value
                    continue
                if (
                    isinstance(part, ast.FormattedValue)
                    and SQL_WRITE.search(text)
                    and _mentions(part.value, table_names)
                ):
                    yield Place(node.lineno, f"SQL write on {model}'s table")
                text += "{}"
            if literal.search(text):
                yield Place(node.lineno, f"SQL write on table {table}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if literal.search(node.value):
                yield Place(node.lineno, f"SQL write on table {table}")


def role_decisions(source: str) -> Iterator[Place]:
    """Where `source` decides on roles itself: a role tested for membership in, or intersected
    with, someone's `.roles` (the one check is bot.actors.Actor.has)."""
    tree = ast.parse(source)

    def roles_of(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Attribute) and n.attr == "roles" for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.In, ast.NotIn)) for op in node.ops
        ):
            if any(roles_of(c) for c in node.comparators):
                yield Place(node.lineno, "membership test on .roles")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
            if roles_of(node.left) or roles_of(node.right):
                yield Place(node.lineno, "intersection with .roles")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("intersection", "isdisjoint", "issubset", "issuperset")
            and (roles_of(node.func.value) or any(roles_of(a) for a in node.args))
        ):
            yield Place(node.lineno, f"{node.func.attr}() on .roles")
