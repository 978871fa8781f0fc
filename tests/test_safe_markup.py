"""Markup is written in templates, which escape what they insert. Python may declare a string safe HTML only
in the files listed here, each for a reason; any other ``mark_safe``, ``SafeString(...)``, ``format_html``
with markup in its format string, or ``|safe`` / ``{% autoescape off %}`` in a template fails this test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "jinshequ"

ALLOWED_PY = {
    # QR codes as inline SVG drawn by segno (paths only: the encoded data is not in the markup as text)
    "core/qr.py",
}
ALLOWED_TEMPLATES: set[str] = set()
MARKUP = re.compile(r"<[a-zA-Z/!]")


def _safe_markup_calls(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("mark_safe", "SafeString"):
            lines.append(node.lineno)
        elif name in ("format_html", "format_html_join") and node.args:
            template = node.args[1] if name == "format_html_join" and len(node.args) > 1 else node.args[0]
            # a format string that is not a literal may hold anything: count it too
            if not (
                isinstance(template, ast.Constant)
                and isinstance(template.value, str)
                and not MARKUP.search(template.value)
            ):
                lines.append(node.lineno)
    return sorted(lines)


def test_only_listed_python_files_declare_html_safe():
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        lines = _safe_markup_calls(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            found[path.relative_to(ROOT).as_posix()] = lines
    unexpected = {name: lines for name, lines in found.items() if name not in ALLOWED_PY}
    assert not unexpected, (
        f"HTML declared safe in Python outside the allowed files (use a template): {unexpected}"
    )
    stale = ALLOWED_PY - set(found)
    assert not stale, f"allowed but no longer needed, take them off the list: {sorted(stale)}"


def test_templates_do_not_switch_escaping_off():
    pattern = re.compile(r"\|\s*safe(seq)?\b|{%\s*autoescape\s+off")
    found = sorted(
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("templates/**/*.html")
        if pattern.search(path.read_text(encoding="utf-8"))
    )
    assert set(found) <= ALLOWED_TEMPLATES, f"escaping switched off in: {found}"


def test_the_check_finds_what_it_should():
    source = (
        "from django.utils.html import format_html\nfrom django.utils.safestring import mark_safe\n"
        'a = mark_safe(x)\nb = format_html("<b>{}</b>", y)\nc = format_html("{}：{}", y, z)\n'
        "d = format_html(template, y)\n"
    )
    assert _safe_markup_calls(ast.parse(source)) == [3, 4, 6]
