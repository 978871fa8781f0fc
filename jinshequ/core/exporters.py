"""Exporters: every table a user can see, downloadable the same way (pretix's exporter registry, in small).

An exporter is a small class in its app's ``exports.py``: a title, column headings, how one object becomes
one row, and the export's audit entry. It is registered once with ``@register``; the base writes the
``.xlsx`` (``core.exports.write_xlsx``: strings as strings, formula-looking text neutralised, dates as dates, a
safe sheet name and download filename).

The contract:
- the view hands over the rows the user may see, filtered as on the page: a queryset from the app's selector,
  which asks the access layer (the same queryset the page lists), so the export never shows more than the
  page; ``prepare(qs)`` adds what the rows need (``select_related``), ``count()`` counts them;
- ``row(obj)`` returns one sequence as long as ``headers`` (masked personal data unless ``full``);
- ``audit(count)`` writes the export's audit entry (every export is audited, R29); ``response()`` audits and
  returns the file.
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

    def __init__(self, *, user, queryset=None, params=None, full: bool = False):
        self.user = user
        self._queryset = queryset
        self.params = params or {}
        self.full = full

    # --- what subclasses provide -------------------------------------------------------------------

    def queryset(self):
        """The rows to export: the scoped queryset the view passed, prepared for the rows."""
        return self.prepare(self._queryset)

    def prepare(self, qs):
        """Add what ``row`` reads (``select_related``, ``prefetch_related``)."""
        return qs

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
