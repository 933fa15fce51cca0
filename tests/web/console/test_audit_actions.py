"""Every audit action the code writes is told in words: the source of bot/ and scheduler/ is
read for the actions given to audit.record and audit.Event (a literal, a constant, an
f-string family such as f"delivery.{status}", or a parameter traced to every caller), and each
must have a name and a sentence in bot/web/console/audit_actions.py; every detail field written
in a literal has a Chinese name, and every `system:` actor a label. The scanner is also shown
to find each kind of action on source written here."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.web.console.audit_actions import ACTIONS, FAMILIES, FIELDS, FIELDS_OF, action_text
from bot.web.console.labels import SYSTEM_LABELS

ROOT = Path(__file__).resolve().parents[3]
WRITERS = ("bot", "scheduler")
# audit.record(conn, actor, action, target_type, target_id, details)
# audit.Event(actor, action, target_type, target_id, details)
POSITIONS = {"record": (2, 5), "Event": (1, 4)}
FAMILY = "*"  # marks an f-string action: its prefix names a family


class Unresolved(Exception):
    pass


@dataclass
class Module:
    name: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST]


def parse(name: str, source: str) -> Module:
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    return Module(name, tree, parents)


def modules() -> list[Module]:
    out = []
    for package in WRITERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                rel = str(path.relative_to(ROOT))
                out.append(parse(rel, path.read_text(encoding="utf-8")))
    return out


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _enclosing(mod: Module, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    while node in mod.parents:
        node = mod.parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _is_writer(mod: Module, call: ast.Call) -> bool:
    """audit.record(...) / audit.Event(...), or Event(...) inside bot/audit.py itself."""
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "audit":
        return f.attr in POSITIONS
    if mod.name == "bot/audit.py" and isinstance(f, ast.Name) and f.id == "Event":
        fn = _enclosing(mod, call)
        return fn is None or fn.name not in ("record", "record_many")  # the writer itself
    return False


def _arg(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    if len(call.args) > index and not any(isinstance(a, ast.Starred) for a in call.args):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    params = [*fn.args.posonlyargs, *fn.args.args]
    return params[1:] if params and params[0].arg in ("self", "cls") else params


def _default(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> ast.expr | None:
    positional = [*fn.args.posonlyargs, *fn.args.args]
    defaults = dict(zip([a.arg for a in positional][::-1], fn.args.defaults[::-1], strict=False))
    kw = dict(zip([a.arg for a in fn.args.kwonlyargs], fn.args.kw_defaults, strict=True))
    return defaults.get(name) or kw.get(name)


def actions(expr: ast.expr, mod: Module, all_mods: list[Module], depth: int = 0) -> set[str]:
    """The action strings an expression can be, following names to their values."""
    if depth > 5:
        raise Unresolved(f"{mod.name}:{expr.lineno}: too deep")
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return actions(expr.body, mod, all_mods, depth) | actions(expr.orelse, mod, all_mods, depth)
    if isinstance(expr, ast.JoinedStr):
        first = expr.values[0] if expr.values else None
        if isinstance(first, ast.Constant) and len(expr.values) == 2:
            return {f"{first.value}{FAMILY}"}
        raise Unresolved(f"{mod.name}:{expr.lineno}: an f-string action without a prefix")
    if isinstance(expr, ast.Name):
        fn = _enclosing(mod, expr)
        if fn is not None and expr.id in [a.arg for a in (*_params(fn), *fn.args.kwonlyargs)]:
            return _from_callers(fn, expr.id, mod, all_mods, depth + 1)
        for node in mod.tree.body:  # a module constant
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == expr.id for t in targets):
                    return actions(node.value, mod, all_mods, depth + 1)
    raise Unresolved(f"{mod.name}:{getattr(expr, 'lineno', '?')}: {ast.unparse(expr)}")


def _from_callers(
    fn: ast.FunctionDef | ast.AsyncFunctionDef,
    param: str,
    mod: Module,
    all_mods: list[Module],
    depth: int,
) -> set[str]:
    names = [a.arg for a in _params(fn)]
    index = names.index(param) if param in names else 10**6
    found: set[str] = set()
    default = _default(fn, param)
    if default is not None:
        found |= actions(default, mod, all_mods, depth)
    for other in all_mods:
        for call in ast.walk(other.tree):
            if isinstance(call, ast.Call) and _callee(call) == fn.name:
                given = _arg(call, index, param)
                if given is not None:
                    found |= actions(given, other, all_mods, depth)
    if not found:
        raise Unresolved(f"{mod.name}: no caller of {fn.name} gives {param}")
    return found


@dataclass(frozen=True)
class Written:
    where: str
    actions: frozenset[str]
    fields: frozenset[str]


def _fields(expr: ast.expr | None, call: ast.Call, mod: Module) -> set[str]:
    """The detail keys written in literals: in the argument, or in what the enclosing
    function assigns, subscripts or updates under the argument's name."""
    if expr is None:
        return set()
    nodes: list[ast.AST] = [expr]
    fn = _enclosing(mod, call)
    if isinstance(expr, ast.Name) and fn is not None:
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and t.id == expr.id:
                        nodes.append(node.value)
                    if (
                        isinstance(t, ast.Subscript)
                        and isinstance(t.value, ast.Name)
                        and t.value.id == expr.id
                        and isinstance(t.slice, ast.Constant)
                    ):
                        nodes.append(ast.Dict(keys=[t.slice], values=[node.value]))
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == expr.id
            ):
                nodes += [
                    ast.Dict(keys=[ast.Constant(k.arg)], values=[k.value]) for k in node.keywords
                ]
                nodes += node.args
    keys = set()
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Dict):
                keys |= {k.value for k in node.keys if isinstance(k, ast.Constant)}
    return {str(k) for k in keys}


def written(all_mods: list[Module]) -> Iterator[Written]:
    for mod in all_mods:
        for call in ast.walk(mod.tree):
            if isinstance(call, ast.Call) and _is_writer(mod, call):
                position, details_at = POSITIONS[_callee(call)]
                action = _arg(call, position, "action")
                assert action is not None, f"{mod.name}:{call.lineno}: no action"
                yield Written(
                    f"{mod.name}:{call.lineno}",
                    frozenset(actions(action, mod, all_mods)),
                    frozenset(_fields(_arg(call, details_at, "details"), call, mod)),
                )


def missing(found: list[Written]) -> list[str]:
    out = []
    for w in found:
        for action in sorted(w.actions):
            if action.endswith(FAMILY):
                prefix = action[: -len(FAMILY)]
                family = FAMILIES.get(prefix)
                if family is None:
                    out.append(f"{w.where}: family {prefix}… has no statuses in FAMILIES")
                    continue
                out += [
                    f"{w.where}: {prefix}{s.value}"
                    for s in family
                    if f"{prefix}{s.value}" not in ACTIONS
                ]
            elif action not in ACTIONS:
                out.append(f"{w.where}: {action}")
    return out


@pytest.fixture(scope="module")
def found() -> list[Written]:
    return list(written(modules()))


def test_every_action_written_anywhere_has_a_name_and_a_sentence(found: list[Written]) -> None:
    assert len(found) > 40  # the scan saw the writers (items, outbox, inbox, staff, sla…)
    seen = {a for w in found for a in w.actions}
    # Actions reached only through a parameter or a constant were traced to their values.
    assert {"item.edit", "item.source_import", "audit.key", "comment.remind"} <= seen
    assert missing(found) == []


def test_every_detail_field_written_in_a_literal_has_a_chinese_name(found: list[Written]) -> None:
    labelled = set(FIELDS) | {key for _, key in FIELDS_OF}
    unnamed = sorted({f"{w.where}: {f}" for w in found for f in w.fields if f not in labelled})
    assert unnamed == []


def test_every_system_actor_the_code_names_has_a_label() -> None:
    pattern = re.compile(r"^system:([\w-]+)$")
    named = {
        m.group(1)
        for mod in modules()
        for node in ast.walk(mod.tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if (m := pattern.match(node.value))
    }
    assert {"dispatcher", "replies", "sla"} <= named
    assert sorted(named - set(SYSTEM_LABELS)) == []


def test_every_action_has_chinese_words_and_both_placeholders_fill() -> None:
    for name, text in ACTIONS.items():
        assert re.search(r"[\u4e00-\u9fff]", text.label), name
        assert "{actor}" in text.sentence, name
        told = text.sentence.format(actor="张三", target="《通知》")
        assert "_" not in told and "." not in told, (name, told)


def test_an_unknown_action_is_still_told_in_words() -> None:
    text = action_text("legacy.{odd}")
    assert text.label == "其他操作（legacy.{odd}）"
    assert (
        text.sentence.format(actor="张三", target="稿件 #1")
        == "张三 对稿件 #1进行了操作（legacy.{odd}）"
    )


SCANNED = """
from bot import audit
KIND = "thing.constant"

async def _write(conn, action: str, extra: str = "thing.default"):
    await audit.record(conn, "system:x", action, "item", 1, {"alpha": 1})
    details = {"beta": 2}
    details["gamma"] = 3
    details.update(delta=4)
    await audit.record(conn, "system:x", extra, "item", 1, details)

async def run(conn, status):
    await _write(conn, "thing.passed")
    await _write(conn, action="thing.keyword", extra="thing.other")
    events = [audit.Event("system:x", f"thing.{status.value}", "item", 1)]
    events.append(audit.Event("system:x", KIND if status else "thing.else", "item", 1))
"""


def test_the_scanner_traces_literals_parameters_constants_and_families() -> None:
    mod = parse("bot/example.py", SCANNED)
    found = list(written([mod]))
    assert set().union(*(w.actions for w in found)) == {
        "thing.passed",
        "thing.keyword",
        "thing.default",
        "thing.other",
        "thing.*",
        "thing.constant",
        "thing.else",
    }
    assert set().union(*(w.fields for w in found)) == {"alpha", "beta", "gamma", "delta"}
    assert "bot/example.py:15: family thing.… has no statuses in FAMILIES" in missing(found)


def test_the_scanner_refuses_an_action_it_cannot_trace() -> None:
    mod = parse("bot/example.py", "from bot import audit\naudit.Event('s', make(), 'item', 1)\n")
    with pytest.raises(Unresolved):
        list(written([mod]))
