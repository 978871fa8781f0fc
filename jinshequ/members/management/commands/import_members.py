"""``jinshequ import members FILE [--dry-run]``: import members from .xlsx or .csv.

Validates every row first; writes nothing if any row has an error (unless ``--valid-only``), and
writes everything in one transaction, printing ``applied N`` as it goes. ``--user`` imports within
that user's scope and records them as the actor; without it the import runs as the system with
the whole city in scope. The command itself is ``imports.commands.ImportCommand``.
"""

from jinshequ.imports.commands import ImportCommand
from jinshequ.members.importers import MemberImporter


class Command(ImportCommand):
    help = "从 .xlsx 或 .csv 文件导入党员（先检查全部行，再在一个事务中写入）。"
    importer_class = MemberImporter
