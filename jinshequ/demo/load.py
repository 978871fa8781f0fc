"""Fast bulk writes for the demo city's large tables (≈2 M rows at city scale).

Rows are plain tuples of database-ready values, written without model instances: on SQLite with one
prepared ``INSERT`` run by ``executemany`` on the DB-API connection, on PostgreSQL with ``COPY … FROM
STDIN``. The generators choose the primary keys themselves (``Loader.ids``), so rows can refer to one
another before anything is written; ``Loader.finish`` moves PostgreSQL's sequences past them (SQLite's
``AUTOINCREMENT`` table follows explicit ids by itself).

Times are kept as integers — seconds since 0001-01-01 00:00 in local (Asia/Shanghai, UTC+8, no daylight
saving) time — and written as UTC text in the backend's own format (``Loader.ts``); dates as ISO text.
Only model metadata goes into the SQL text; every value is a parameter (or a COPY field).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterable, Sequence

from django.core.management.color import no_style
from django.db import connection

DAY = 86_400
LOCAL_OFFSET = 8 * 3600  # Asia/Shanghai: UTC+8 all year


class FastRandom(random.Random):
    """``random.Random`` whose integer draws (``randint``, ``choice``, ``sample`` …) scale one ``random()``
    instead of looping over ``getrandbits``: several times faster, the bias (< 2**-40) is irrelevant here,
    and the same seed still gives the same sequence."""

    def _randbelow(self, n: int) -> int:
        return int(self.random() * n)


def moment(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Local seconds for a local date and time of day."""
    return day.toordinal() * DAY + hour * 3600 + minute * 60 + second


def local_day(t: int) -> int:
    """The local date's ordinal of a moment."""
    return t // DAY


class Loader:
    def __init__(self) -> None:
        self.vendor = connection.vendor
        self._suffix = "+00:00" if self.vendor == "postgresql" else ""
        self._days: dict[int, str] = {}
        self._prefixes: dict[int, str] = {}
        self._next: dict[type, int] = {}
        self._written: list[type] = []
        self._fk_tables: set[str] = set()
        self._foreign_keys: list[tuple[str, str, str]] = []  # (table, name, definition) dropped for the load
        self.rows = 0

    # --- values --------------------------------------------------------------------------------

    def day(self, ordinal: int) -> str:
        text = self._days.get(ordinal)
        if text is None:
            text = self._days[ordinal] = dt.date.fromordinal(ordinal).isoformat()
        return text

    def date(self, value: dt.date | None) -> str | None:
        return None if value is None else self.day(value.toordinal())

    def ts(self, t: int | None) -> str | None:
        """A local moment as the UTC text Django writes for an aware datetime (SQLite: no offset)."""
        if t is None:
            return None
        d, s = divmod(t - LOCAL_OFFSET, DAY)
        prefix = self._prefixes.get(d)
        if prefix is None:
            prefix = self._prefixes[d] = self.day(d) + " "
        return prefix + self._clock[s]

    @property
    def _clock(self) -> list[str]:
        """``HH:MM:SS`` (plus the offset) for every second of a day, built once (a few MB)."""
        clock = self.__dict__.get("_clock_table")
        if clock is None:
            suffix = self._suffix
            clock = self.__dict__["_clock_table"] = [
                f"{h:02d}:{m:02d}:{s:02d}{suffix}" for h in range(24) for m in range(60) for s in range(60)
            ]
        return clock

    # --- ids -----------------------------------------------------------------------------------

    def ids(self, model, n: int) -> int:
        """Reserve ``n`` primary keys of ``model``; returns the first (the rest follow it)."""
        if model not in self._next:
            from django.db.models import Max

            self._next[model] = (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
        first = self._next[model]
        self._next[model] = first + n
        return first

    # --- writing -------------------------------------------------------------------------------

    def write(self, model, fields: Sequence[str], rows: Iterable[tuple]) -> int:
        """Insert ``rows`` (tuples in the order of ``fields``, attribute names such as ``member_id``)."""
        opts = model._meta
        by_attname = {f.attname: f for f in opts.concrete_fields}
        columns = [by_attname[name].column for name in fields]
        qn = connection.ops.quote_name
        table = qn(opts.db_table)
        cols = ", ".join(qn(c) for c in columns)
        connection.ensure_connection()
        raw = connection.connection
        n = 0
        if self.vendor == "postgresql":
            self._drop_foreign_keys(opts.db_table)
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
                    n += 1
        else:
            sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
            if not isinstance(rows, list):
                rows = list(rows)
            cursor = raw.cursor()
            try:
                cursor.executemany(sql, rows)
            finally:
                cursor.close()
            n = len(rows)
        if "id" in fields and model not in self._written:
            self._written.append(model)
        self.rows += n
        return n

    @contextlib.contextmanager
    def without_indexes(self, model):
        """Drop the table's secondary indexes for a large load and build them again afterwards (one sort per
        index instead of a B-tree insertion per row). Inside the caller's transaction: a failure restores
        them with everything else. Indexes that back a constraint (primary key, ``unique=True``) stay."""
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if self.vendor == "sqlite":
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                    "AND sql IS NOT NULL",
                    [table],
                )
            elif self.vendor == "postgresql":
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                    "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                    [table, table],
                )
            indexes = cursor.fetchall() if self.vendor in ("sqlite", "postgresql") else []
            self._check_deferred(cursor)
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        yield  # on an error the caller's transaction rolls back, indexes included
        with connection.cursor() as cursor:
            self._check_deferred(cursor)
            for _, sql in indexes:
                cursor.execute(sql)

    def _check_deferred(self, cursor) -> None:
        """PostgreSQL refuses DDL on a table with pending deferred foreign-key checks: run them now."""
        if self.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def _drop_foreign_keys(self, table: str) -> None:
        """PostgreSQL checks a foreign key with one trigger query per row (deferred to the commit: millions
        of them here); re-adding the constraint afterwards checks the whole table in one join instead."""
        if table in self._fk_tables:
            return
        self._fk_tables.add(table)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid = %s::regclass ORDER BY conname",
                [table],
            )
            keys = cursor.fetchall()
            if keys:
                self._check_deferred(cursor)
            qn = connection.ops.quote_name
            for name, definition in keys:
                cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
                self._foreign_keys.append((table, name, definition))

    def finish(self) -> None:
        """PostgreSQL: add the foreign keys back (each validated over its whole table) and move each
        sequence past the ids written here."""
        if self.vendor != "postgresql":
            return
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            if self._foreign_keys:
                self._check_deferred(cursor)
            for table, name, definition in self._foreign_keys:
                cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
            self._foreign_keys.clear()
            for sql in connection.ops.sequence_reset_sql(no_style(), self._written):
                cursor.execute(sql)


def analyze() -> None:
    """Planner statistics for the freshly loaded tables (SQLite's and PostgreSQL's ``ANALYZE``)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
