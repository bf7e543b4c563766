"""Fast path for schema validation of large arrays of flat records (e.g. IF-021 ``B047``).

fastjsonschema's generated code costs ~2 us per ``B047`` consumption period (it rebuilds key sets,
scans enum lists and formats item names eagerly); an IF-021 day has up to 48 of them. For any
array whose items are a *flat record* (an object of scalar fields, all required, no additional
properties) and that may hold many items, :func:`build` returns:

* a copy of the variant schema where those arrays' ``items`` are unconstrained, and
* the JSON paths of those arrays plus a tight hand-made checker per record definition.

:class:`~dip.catalogue.Catalogue` compiles the reduced schema and runs the record checkers.
When a record check fails, the full schema validator runs to produce the precise error, so
behaviour (which errors are found and how they are reported) equals the full schema's.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any, Final

HOT_MAX_ITEMS: Final = 24  # arrays allowed to hold at least this many items take the fast path
Path = tuple[str, ...]  # keys from the payload root; "*" = every array item
RecordCheck = Callable[[Any], bool]


def _scalar_lines(name: str, node: dict[str, Any], env: dict[str, Any]) -> list[str] | None:
    """Source lines checking ``item[name]`` against a scalar string schema, or None."""
    if set(node.keys()) - {"type", "minLength", "maxLength", "enum", "pattern"}:
        return None
    types = node.get("type")
    types = [types] if isinstance(types, str) else types
    if not types or not set(types) <= {"string", "null"}:
        return None
    lo, hi = node.get("minLength", 0), node.get("maxLength", 1 << 30)
    n = len(env)
    cond = [f"type(v) is not str or not {lo} <= len(v) <= {hi}"]
    if "enum" in node:
        env[f"E{n}"] = frozenset(e for e in node["enum"] if isinstance(e, str))
        cond.append(f"v not in E{n}")
    if "pattern" in node:
        env[f"P{n}"] = re.compile(node["pattern"].replace("$", r"\Z")).search
        cond.append(f"P{n}(v) is None")
    test = " or ".join(cond)
    if "null" in types:
        test = f"v is not None and ({test})"
    return [f"    v = item[{name!r}]", f"    if {test}:", "        return False"]


def record_checker(defn: dict[str, Any]) -> RecordCheck | None:
    """A checker equivalent to ``defn`` if it is a flat record, else None.

    The checker is generated Python source (one function, no per-field calls) built only from
    our committed spec data; ``exec`` is used the same way fastjsonschema uses it.
    """
    props = defn.get("properties")
    if defn.get("type") != "object" or defn.get("additionalProperties") is not False or not props:
        return None
    if set(defn.get("required", ())) != set(props):
        return None
    env: dict[str, Any] = {"KEYS": frozenset(props)}
    lines = [
        "def check(item):",
        "    if type(item) is not dict or item.keys() != KEYS:",
        "        return False",
    ]
    for name, node in props.items():
        body = _scalar_lines(name, node, env)
        if body is None:
            return None
        lines.extend(body)
    lines.append("    return True")
    exec("\n".join(lines), env)  # noqa: S102 - source generated from our own schema data
    check: RecordCheck = env["check"]
    return check


def build(
    variant: dict[str, Any], definitions: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[Path, RecordCheck]]]:
    """(reduced variant schema with local copies of touched definitions, fast checks)."""
    defs = dict(definitions)
    schema = copy.deepcopy(variant)
    found: list[tuple[Path, RecordCheck]] = []

    def walk(node: dict[str, Any], path: Path) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            local = f"fast.{name}"
            if local not in defs:
                defs[local] = copy.deepcopy(definitions[name])
                walk(defs[local], path)
            node["$ref"] = f"#/definitions/{local}"
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, ()):
                walk(sub, path)
        for key, sub in node.get("properties", {}).items():
            walk(sub, (*path, key))
        items = node.get("items")
        if isinstance(items, dict):
            ref = items.get("$ref", "").rsplit("/", 1)[-1]
            check = record_checker(definitions[ref]) if ref in definitions else None
            if check is not None and node.get("maxItems", 1 << 30) >= HOT_MAX_ITEMS:
                node["items"] = {}
                found.append(((*path, "*"), check))
            else:
                walk(items, (*path, "*"))

    walk(schema, ())
    if not found:
        return variant, []
    return {**schema, "definitions": defs}, found


def records_ok(data: Any, checks: list[tuple[Path, RecordCheck]]) -> bool:
    """Run the record checks over ``data`` (a payload already valid against the reduced schema)."""
    return all(_walk(data, path, 0, check) for path, check in checks)


def _walk(node: Any, path: Path, i: int, check: RecordCheck) -> bool:
    if i == len(path) - 1:  # path[i] == "*": node is the hot array
        return type(node) is list and all(map(check, node))
    key = path[i]
    if key == "*":
        return type(node) is list and all(_walk(n, path, i + 1, check) for n in node)
    if type(node) is not dict or key not in node:
        return True  # absent optional container: nothing to check
    return _walk(node[key], path, i + 1, check)
