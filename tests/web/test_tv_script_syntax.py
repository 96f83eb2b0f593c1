"""The TV scripts stay plain ES2015 classic scripts (docs/tv.md): old set-top box engines run them with
no build step. Each script the TV templates load is parsed by esprima (as a script, so `import` and
`export` are refused), and what esprima accepts but ES2015 lacks is refused from the syntax tree:
async functions, `await`, `**`, object rest/spread, trailing commas in calls and parameters (ES2017),
and calls of library methods newer than the engine floor. A failure names the file and the line."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import esprima  # type: ignore[import-untyped]  # no stubs; the parser of the check
import pytest

WEB = Path(__file__).resolve().parents[2] / "src" / "xueliang" / "web"
JS = WEB / "static" / "js"
TEMPLATES = WEB / "templates"

# Library calls newer than the floor (ES2016+ or DOM features of Chromium 54+), with the ES2015 way.
NEWER_METHODS = {
    "replaceChildren": "Chromium 86: clear and appendChild (XLTV.fill)",
    "append": "DOM4 append is Chromium 54: appendChild",
    "prepend": "Chromium 54: insertBefore",
    "includes": "ES2016 for arrays: indexOf",
    "padStart": "ES2017",
    "padEnd": "ES2017",
    "flat": "ES2019",
    "flatMap": "ES2019",
    "finally": "ES2018: then(f, f)",
    "allSettled": "ES2020",
    "fromEntries": "ES2019",
    "replaceAll": "ES2021",
}
OBJECT_STATICS = {"entries": "ES2017: Object.keys", "values": "ES2017: Object.keys"}


def tv_scripts() -> list[Path]:
    """Every script of the TV: tv*.js, alarm-tv.js and static/js/tv/**."""
    found = set(JS.glob("tv*.js")) | {JS / "alarm-tv.js"} | set((JS / "tv").rglob("*.js"))
    return sorted(p for p in found if p.is_file())


def walk(node: Any) -> Iterator[Any]:
    """Every syntax node under `node` (esprima's node objects; toDict() would cost seconds)."""
    if isinstance(node, list):
        for item in node:
            yield from walk(item)
    elif hasattr(node, "type") and hasattr(node, "__dict__"):
        yield node
        for key, value in vars(node).items():
            if key not in ("loc", "range"):
                yield from walk(value)


def line_of(node: Any) -> int:
    loc = getattr(node, "loc", None)
    return int(loc.start.line) if loc is not None else 0


def newer_syntax(source: str) -> list[tuple[int, str]]:
    """(line, what) for each construct newer than ES2015; a parse error is one of them."""
    try:
        tree = esprima.parseScript(source, {"loc": True, "tokens": True})
    except esprima.Error as exc:
        line = getattr(exc, "lineNumber", 0)
        return [(int(line or 0), f"does not parse as an ES2017-or-older classic script: {exc}")]
    problems: list[tuple[int, str]] = []
    tokens = tree.tokens
    for prev, nxt in itertools.pairwise(tokens):
        if prev.type == "Punctuator" and prev.value == "," and nxt.type == "Punctuator" and nxt.value == ")":
            problems.append((prev.loc.start.line, "a trailing comma before ')' is ES2017"))
    for node in walk(tree.body):
        kind = node.type
        if getattr(node, "isAsync", False):
            problems.append((line_of(node), "async functions are ES2017"))
        elif kind == "AwaitExpression":
            problems.append((line_of(node), "await is ES2017"))
        elif kind in ("BinaryExpression", "AssignmentExpression") and node.operator in ("**", "**="):
            problems.append((line_of(node), "the ** operator is ES2016: Math.pow"))
        elif kind in ("ObjectExpression", "ObjectPattern"):
            for prop in node.properties:
                if prop.type in ("SpreadElement", "RestElement"):
                    problems.append((line_of(prop), "object rest/spread is ES2018"))
        elif kind == "CallExpression" and node.callee.type == "MemberExpression":
            callee = node.callee
            name = None if callee.computed else getattr(callee.property, "name", None)
            obj = callee.object
            if name in NEWER_METHODS:
                problems.append((line_of(node), f".{name}() is too new ({NEWER_METHODS[name]})"))
            elif name in OBJECT_STATICS and obj.type == "Identifier" and obj.name == "Object":
                problems.append((line_of(node), f"Object.{name}() is too new ({OBJECT_STATICS[name]})"))
    return problems


def test_every_tv_script_is_es2015() -> None:
    scripts = tv_scripts()
    assert len(scripts) >= 5, scripts
    failures = [
        f"{path.relative_to(WEB)}:{line}: {what}"
        for path in scripts
        for line, what in newer_syntax(path.read_text(encoding="utf-8"))
    ]
    assert not failures, "TV scripts must stay ES2015 (docs/tv.md):\n" + "\n".join(failures)


def test_tv_templates_load_only_checked_classic_scripts() -> None:
    """The TV pages load classic scripts (no type=module: modules need Chromium 61), all of them checked."""
    checked = {"/static/" + p.relative_to(WEB / "static").as_posix() for p in tv_scripts()}
    templates = [TEMPLATES / "tv.html", *sorted(TEMPLATES.glob("tv_*.html"))]
    loaded: list[str] = []
    for template in templates:
        html = template.read_text(encoding="utf-8")
        assert 'type="module"' not in html, f"{template.name} loads an ES module"
        loaded += re.findall(r'<script[^>]*\ssrc="([^"?]+)', html)
    assert loaded, "tv.html loads no script"
    assert set(loaded) <= checked, f"unchecked scripts on the TV: {set(loaded) - checked}"


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("async function f() { return 1; }", "async"),
        ("var f = function () { return g(await x); };", "parse"),
        ("var a = b?.c;", "parse"),
        ("var a = 2 ** 3;", "**"),
        ("var o = { ...p };", "rest/spread"),
        ("f(a, b,);", "trailing comma"),
        ("try { f(); } catch { g(); }", "parse"),
        ("el.replaceChildren(x);", "replaceChildren"),
        ("(function () { return { m: () => [a.padStart(2)] }; }());", "padStart"),
        ("(function () { var f = async () => 1; }());", "async"),
        ("var e = Object.entries(o);", "Object.entries"),
        ("import { x } from './x.js';", "parse"),
    ],
)
def test_the_check_refuses_newer_syntax(source: str, what: str) -> None:
    problems = newer_syntax(source)
    assert problems, f"accepted: {source}"
    assert problems[0][0] == 1
    assert what in problems[0][1] or what == "parse", problems


def test_the_check_accepts_es2015() -> None:
    source = (
        "class A { m(x = 1, ...rest) { return `${x}` + rest.length; } }\n"
        "const f = (a) => { let [b, ...c] = a; const { d, e } = b; return [...c, d, e]; };\n"
        "for (const k of Object.keys({ a: 1 })) { new Promise((r) => r(k)).then(f, f); }\n"
        "'abc'.indexOf('b');\n"
    )
    assert newer_syntax(source) == []
