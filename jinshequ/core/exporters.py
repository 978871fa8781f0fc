"""Exporters: every table a user can see, downloadable the same way (pretix's exporter registry, in small).

An exporter is a small class in its app's ``exports.py``: a title, column headings, the rows the user may see
(its ``queryset`` asks the access layer, never the role), and how one object becomes one row. It is
registered once with ``@register``; the base writes the ``.xlsx`` (``core.exports.write_xlsx``: strings as
strings, formula-looking text neutralised, dates as dates, a safe sheet name and download filename).

The contract for subclasses:
- ``queryset()`` returns only rows ``user`` may see, already filtered by ``params``; ``count()`` counts them;
- ``row(obj)`` returns one sequence as long as ``headers`` (masked personal data unless ``full``);
- ``audit(count)`` writes the export's audit entry (every export is audited, R29); the view calls
  ``response()``, which audits and streams the file.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from django.http import FileResponse

from jinshequ.core.exports import write_xlsx, xlsx_response

REGISTRY: dict[str, type[Exporter]] = {}


def register(cls: type[Exporter]) -> type[Exporter]:
    """Class decorator: make ``cls`` known by its ``name`` (unique across the project)."""
    if not cls.name or cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"exporter name {cls.name!r} is empty or already taken")
    REGISTRY[cls.name] = cls
    return cls


class Exporter(abc.ABC):
    name: ClassVar[str] = ""  # "members.list": app label, then what it exports
    title: ClassVar[Any] = ""  # a (lazy) translated title: sheet name and file name
    headers: ClassVar[Sequence[Any]] = ()  # (lazy) translated column headings
    chunk_size: ClassVar[int] = 2000

    def __init__(self, *, user, params=None, full: bool = False):
        self.user = user
        self.params = params or {}
        self.full = full

    # --- what subclasses provide -------------------------------------------------------------------

    @abc.abstractmethod
    def queryset(self):
        """The rows ``self.user`` may see (through the access layer), filtered by ``self.params``."""

    @abc.abstractmethod
    def row(self, obj) -> Sequence:
        """One object as one row, as long as ``headers``."""

    @abc.abstractmethod
    def audit(self, count: int) -> None:
        """Write the export's audit entry (who exported what, how many rows, with which filters)."""

    def get_title(self) -> str:
        return str(self.title)

    # --- what the base does ------------------------------------------------------------------------

    def get_headers(self) -> list[str]:
        return [str(h) for h in self.headers]

    def count(self) -> int:
        return self.queryset().count()

    def rows(self) -> Iterator[Sequence]:
        for obj in self.queryset().iterator(chunk_size=self.chunk_size):
            yield self.row(obj)

    def write(self, file) -> int:
        """Write the workbook to ``file`` (a path or a binary file); returns the number of rows."""
        return write_xlsx(file, self.get_title(), self.get_headers(), self.rows())

    def response(self) -> FileResponse:
        self.audit(self.count())
        return xlsx_response(self.get_title(), self.get_headers(), self.rows())
