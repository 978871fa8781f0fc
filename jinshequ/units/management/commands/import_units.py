"""``jinshequ import units FILE [--dry-run]``: import work units from .xlsx or .csv."""

from jinshequ.imports.commands import ImportCommand
from jinshequ.units.importers import UnitImporter


class Command(ImportCommand):
    help = "从 .xlsx 或 .csv 文件导入单位（先检查全部行，再在一个事务中写入）。"
    importer_class = UnitImporter
