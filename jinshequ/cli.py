"""The ``jinshequ`` console script: Django's management commands with a few friendlier spellings.

jinshequ demo [--scale small|city] [--no-serve] [--port N]
jinshequ import members FILE [--dry-run]     (also: import units FILE)
jinshequ <any django-admin command>
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jinshequ.settings")
    if len(argv) >= 3 and argv[1] == "import" and argv[2] in ("members", "units"):
        argv = [argv[0], f"import_{argv[2]}", *argv[3:]]
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
