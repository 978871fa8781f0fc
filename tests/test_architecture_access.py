"""Role comparisons live only in the access layer (``jinshequ/access/``), the permission table
(``accounts/perms.py``), the account model (``accounts/models.py``) and the demo builder: everywhere else
code asks a policy (``rows``, ``get``, ``can``) or an audience of ``jinshequ.access.audiences``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "jinshequ"
ALLOWED = ("access/", "accounts/perms.py", "accounts/models.py", "demo/")
ROLE_COMPARISON = re.compile(r"\bRole\.[A-Z_]+|\.role\s*(==|!=|\bin\b|\bnot\s+in\b)")


def _allowed(relative: str) -> bool:
    return relative.startswith(ALLOWED) or "/migrations/" in relative


def role_comparisons(root: Path = ROOT, pattern: str = "*.py") -> list[str]:
    """``path:line: text`` of every role comparison outside the allowed places."""
    found = []
    for path in sorted(root.rglob(pattern)):
        relative = path.relative_to(root).as_posix()
        if _allowed(relative):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ROLE_COMPARISON.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_no_role_comparison_outside_the_access_layer():
    assert role_comparisons() == []


def test_no_role_comparison_in_templates():
    """Templates get a flag from their view (which asked the access layer), never compare roles."""
    assert role_comparisons(pattern="*.html") == []


def test_the_check_finds_each_form_of_comparison(tmp_path):
    app = tmp_path / "someapp"
    app.mkdir()
    (app / "views.py").write_text(
        "a = user.role == Role.MEMBER\n"
        "b = user.role != 'city_admin'\n"
        "c = user.role in ADMINS\n"
        "d = Role.UNIT_ADMIN\n"
        "e = user.role_label\n",
        encoding="utf-8",
    )
    (tmp_path / "access").mkdir()
    (tmp_path / "access" / "audiences.py").write_text("x = Role.MEMBER\n", encoding="utf-8")
    (app / "migrations").mkdir()
    (app / "migrations" / "0001_initial.py").write_text("x = Role.MEMBER\n", encoding="utf-8")
    lines = [f.split(":")[1] for f in role_comparisons(tmp_path)]
    assert lines == ["1", "2", "3", "4"]
