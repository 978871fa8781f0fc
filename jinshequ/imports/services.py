"""Spreadsheet imports: the shared engine, the job lifecycle and the registry of importers.

An importer declares its columns (canonical Chinese heading, accepted variants, whether required)
and works in three passes, after ``jinshequ.core.xlsxsafe`` has accepted the file:

1. *validate*: read every row, clean every cell against cached reference data (units, communities,
   skills, the importer's scope) and collect **all** errors, per row and column, in plain Chinese;
   then cross-row checks (duplicates in the file) and checks against existing rows (one query per
   2,000 rows).
2. *build*: turn each valid row into a planned create, update (with the exact changes) or
   "unchanged", so a preview can say what would happen and a re-import of the same file plans
   nothing.
3. *save*: in one transaction, bulk inserts and updates plus bulk audit rows, printing progress.

``run_import`` drives the passes; the UI (``views``), the task worker (``tasks``) and the
management commands all go through it, so what the preview promises is what the import does.
Row numbers are spreadsheet row numbers (the heading row is usually row 1).
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import datetime as dt
import difflib
import functools
import gc
import hashlib
import io
import logging
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.accounts.perms import user_has_perm
from jinshequ.accounts.services import audit
from jinshequ.core import crypto
from jinshequ.core.idcard import (
    mask_id_number,
    mask_phone,
)
from jinshequ.core.logging import mask_text
from jinshequ.core.xlsxsafe import MAX_ROWS, UnsafeFile, check_file, iter_csv
from jinshequ.imports.models import ImportJob

logger = logging.getLogger(__name__)

APPLY_CHUNK = 2500  # rows saved between two progress lines ("applied 2500", "applied 5000", …)
LOOKUP_CHUNK = 2000  # hashes per "existing rows" query
MAX_STORED_ERRORS = 50_000
PREVIEW_ROWS = 20
HEADER_SEARCH_ROWS = 10
NUMERIC_ID_MESSAGE = _("身份证号被 Excel 存为数字，末位已丢失，请把该列设为文本后重新填写")
_LIST_SPLIT = re.compile(r"[、,，;；\s]+")
_SPACES = re.compile(r"\s+")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_HEADING_JUNK = re.compile(r"[*＊:：]|[（(][^）)]*[）)]")
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_PATH_SPLIT = re.compile(r"\s*[/／·•>＞|｜\\]\s*")
TRUE_WORDS = frozenset({"是", "y", "yes", "true", "1", "√", "✓", "对"})
FALSE_WORDS = frozenset({"否", "n", "no", "false", "0", "×", "✗", "不是"})


def match_region_path(text: str, by_key, ancestors) -> set[int]:
    """The regions a cell names: the whole text as one name (``平山区站前街道``), else its last part under
    all the parts before it (``站前街道/富民社区``). ``by_key`` maps a normalised name to region ids,
    ``ancestors`` a region id to the normalised names above it."""
    parts = [norm_key(p) for p in _PATH_SPLIT.split(text) if p.strip()]
    ids = set(by_key.get("".join(parts), set()))
    if not ids and len(parts) > 1:
        ids = {rid for rid in by_key.get(parts[-1], set()) if set(parts[:-1]) <= ancestors[rid]}
    return ids


# --- shared engine -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Column:
    key: str
    heading: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    note: str = ""
    text_format: bool = False  # the template formats this column as text (IDs, phones)
    width: int = 14


def normalize_heading(text: Any) -> str:
    text = unicodedata.normalize("NFKC", str(text or ""))
    return _SPACES.sub("", _HEADING_JUNK.sub("", text)).lower()


def norm_key(text: str) -> str:
    """Key for matching names typed by people: NFKC (full-width → half-width), no whitespace."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or ""))


def cell_text(value: Any) -> str:
    """A cell as text: strings stripped, integral numbers without ``.0``, dates ISO."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_date(value: Any) -> dt.date:
    """Dates as Excel stores them, or typed as 2005-07-01, 2005/7/1, 2005.7.1, 2005年7月1日, 20050701."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if is_number(value):
        number = float(value)
        if number.is_integer() and 18000101 <= number <= 29991231:
            value = str(int(number))
        elif 1 <= number < 100000:  # an Excel serial day number that was not formatted as a date
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(number))
        else:
            raise ValueError
    return _parse_date_text(str(value).strip())


@functools.lru_cache(maxsize=65536)
def _parse_date_text(text: str) -> dt.date:
    match = _DATE_RE.match(text) or _COMPACT_DATE_RE.match(text)
    if not match:
        raise ValueError
    return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = cell_text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError


def split_list(value: Any) -> list[str]:
    return [part for part in _LIST_SPLIT.split(cell_text(value)) if part]


def suggest(value: str, choices: Iterable[str], n: int = 3) -> str:
    """ "您是不是要找：A、B？" for the closest names, or an empty string."""
    close = difflib.get_close_matches(value, list(choices), n=n, cutoff=0.5)
    return gettext("您是不是要找：%(join)s？") % {"join": gettext("、").join(close)} if close else ""


def masked_cell(value: Any, *, kind: str = "") -> str:
    """A cell value safe to show and store in an error report: IDs and phones masked, long text cut."""
    text = cell_text(value)
    if not text:
        return ""
    if kind == "id":
        text = mask_id_number(text.upper())
    elif kind == "phone":
        text = mask_phone(text)
    text = mask_text(text)
    return text if len(text) <= 60 else text[:57] + "…"


@dataclasses.dataclass
class SourceRow:
    number: int
    values: dict[str, Any]


@dataclasses.dataclass
class Outcome:
    total_rows: int = 0
    valid_rows: int = 0
    error_rows: int = 0
    errors: list[dict] = dataclasses.field(default_factory=list)
    preview: list[dict] = dataclasses.field(default_factory=list)
    notices: list[str] = dataclasses.field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    applied: bool = False

    @property
    def nothing_to_do(self) -> bool:
        return self.valid_rows > 0 and self.created == 0 and self.updated == 0


class ImportHasErrors(Exception):
    """Raised inside the apply transaction when the file has errors and the mode is "all"."""


ProgressFn = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


class BaseImporter(abc.ABC):
    """Reading, heading matching and error collection shared by the member and unit importers."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    columns: ClassVar[tuple[Column, ...]] = ()

    def __init__(self, *, user=None, progress: ProgressFn | None = None) -> None:
        self.user = user
        self.progress = progress or _no_progress
        self.errors: list[dict] = []
        self.error_count = 0
        self.bad_rows: set[int] = set()
        self.notices: list[str] = []
        self.rows: list[SourceRow] = []
        self.present: set[str] = set()
        self.by_key = {c.key: c for c in self.columns}

    # errors
    def error(self, row: int, key: str, value: Any, message: str, *, mask: str = "") -> None:
        self.bad_rows.add(row)
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            heading = self.by_key[key].heading if key in self.by_key else key
            self.errors.append(
                {
                    "row": row,
                    "column": heading,
                    "value": masked_cell(value, kind=mask),
                    "message": str(message),
                }
            )  # a lazy message would not serialise

    # reading
    def heading_index(self) -> dict[str, str]:
        index = {}
        for col in self.columns:
            for name in (col.heading, *col.aliases):
                index[normalize_heading(name)] = col.key
        return index

    def read(self, path: str | Path, file_name: str) -> None:
        """Safety checks, then the heading row and every non-blank data row."""
        kind = check_file(path, file_name)
        raw = iter_xlsx(path) if kind == "xlsx" else iter_csv(path)
        index = self.heading_index()
        header: list | None = None
        mapping: dict[int, str] = {}
        rows: list[SourceRow] = []
        for number, cells in enumerate(raw, start=1):
            if header is None:
                found = {
                    i: index[h]
                    for i, h in ((i, normalize_heading(c)) for i, c in enumerate(cells))
                    if h in index
                }
                if found and len(set(found.values())) >= min(2, len(self.columns)):
                    header, mapping = cells, found
                    self._check_heading(cells, mapping)
                elif number >= HEADER_SEARCH_ROWS:
                    break
                continue
            values = {}
            for i, key in mapping.items():
                if i < len(cells):
                    cell = cells[i]
                    if isinstance(cell, str):
                        cell = cell.strip()
                    if cell != "" and cell is not None:
                        values[key] = cell
            if not values:
                continue
            if len(rows) >= MAX_ROWS:
                raise UnsafeFile(
                    "too_many_rows",
                    gettext("文件数据超过 %(max_rows)s 行，请拆分后分批导入。")
                    % {"max_rows": format(MAX_ROWS, ",")},
                )
            rows.append(SourceRow(number, values))
        if header is None:
            raise UnsafeFile(
                "no_heading",
                gettext("找不到标题行。请使用导入模板，第一行填写列名（如“%(heading)s”）。")
                % {"heading": self.columns[0].heading},
            )
        if not rows:
            raise UnsafeFile("no_rows", gettext("文件中没有数据行。"))
        self.rows = rows

    def _check_heading(self, cells: list, mapping: dict[int, str]) -> None:
        seen: dict[str, int] = {}
        for i, key in mapping.items():
            if key in seen:
                raise UnsafeFile(
                    "duplicate_column",
                    gettext(
                        "“%(heading)s”列出现了两次（第 %(value)s 列和第 %(value2)s 列），请删除其中一列。"
                    )
                    % {"heading": self.by_key[key].heading, "value": seen[key] + 1, "value2": i + 1},
                )
            seen[key] = i
        self.present = set(seen)
        missing = [c.heading for c in self.columns if c.required and c.key not in seen]
        if missing:
            raise UnsafeFile(
                "missing_columns",
                gettext("缺少必填列：%(join)s。请使用导入模板，或检查列名是否写错。")
                % {"join": gettext("、").join(missing)},
            )
        unknown = [cell_text(c) for i, c in enumerate(cells) if i not in mapping and cell_text(c)]
        if unknown:
            self.notices.append(
                gettext("以下列无法识别，已忽略：%(join)s%(value)s。")
                % {
                    "join": gettext("、").join(unknown[:10]),
                    "value": gettext(" 等") if len(unknown) > 10 else "",
                }
            )

    # the passes, implemented by subclasses
    def prepare(self) -> None:  # noqa: B027 - an optional hook: nothing to load by default
        """Load reference data (one query each) before cleaning rows."""

    @abc.abstractmethod
    def clean_all(self) -> None:
        """Validate every row; problems go to ``self.errors`` (row, column, reason)."""

    def check_existing(self) -> None:  # noqa: B027 - an optional hook: no database checks by default
        """Checks against rows already in the database (run again inside the apply transaction)."""

    @abc.abstractmethod
    def build(self) -> None:
        """Turn the clean rows into what ``save`` writes (creations and updates)."""

    @abc.abstractmethod
    def save(self, *, actor, job: ImportJob | None) -> None:
        """Write everything, inside the caller's single transaction."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Rows created, updated and refused, for the summary."""

    def preview_rows(self) -> list[dict]:
        return []


def iter_xlsx(path: str | Path) -> Iterator[list]:
    """Rows of the first visible worksheet, read with python-calamine (values as Python types)."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        index = 0
        for i, meta in enumerate(workbook.sheets_metadata):
            if (
                str(meta.typ).endswith("WorkSheet")
                and str(meta.visible).endswith("Visible")
                and not str(meta.visible).endswith("Hidden")
            ):
                index = i
                break
        sheet = workbook.get_sheet_by_index(index)
        if sheet.height > MAX_ROWS + HEADER_SEARCH_ROWS + 1:
            raise UnsafeFile(
                "too_many_rows",
                gettext("文件数据超过 %(max_rows)s 行，请拆分后分批导入。")
                % {"max_rows": format(MAX_ROWS, ",")},
            )
        rows = sheet.iter_rows()
    except UnsafeFile:
        raise
    except Exception:  # calamine raises its own error types for every kind of damage
        raise UnsafeFile(
            "unreadable", gettext("无法读取文件内容，请用 Excel 打开后重新另存为 .xlsx 再上传。")
        ) from None
    yield from rows


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_import(
    importer: BaseImporter,
    path: str | Path,
    file_name: str,
    *,
    apply: bool,
    only_valid: bool = False,
    actor=None,
    job: ImportJob | None = None,
) -> Outcome:
    """Run the passes. Without ``apply`` nothing is written (a dry run / preview).

    With ``apply`` the existing-row checks, the build and the save run in one transaction; if the
    file has errors and ``only_valid`` is false, ``ImportHasErrors`` is raised and nothing is written.
    Raises ``UnsafeFile`` for problems with the file as a whole.
    """
    with _gc_paused():
        return _run(importer, path, file_name, apply=apply, only_valid=only_valid, actor=actor, job=job)


@contextlib.contextmanager
def _gc_paused():
    """The import allocates millions of short-lived objects while holding a large live set; the cyclic
    collector would scan that set again and again (a quarter of the run). Reference counting still
    frees everything; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def _run(
    importer: BaseImporter,
    path: str | Path,
    file_name: str,
    *,
    apply: bool,
    only_valid: bool,
    actor,
    job: ImportJob | None,
) -> Outcome:
    importer.read(path, file_name)
    total = len(importer.rows)
    importer.progress("validate", 0, total)
    importer.prepare()
    importer.clean_all()
    outcome = Outcome(total_rows=total)
    if not apply:
        importer.check_existing()
        importer.build()
    else:
        with transaction.atomic():
            importer.check_existing()
            if importer.bad_rows and not only_valid:
                first = sorted(importer.errors, key=lambda e: e["row"])[:3]
                raise ImportHasErrors(f"{len(importer.bad_rows)} rows with errors, e.g. {first}")
            importer.build()
            _fill(outcome, importer)
            importer.save(actor=actor, job=job)
            outcome.applied = True
            if outcome.nothing_to_do:
                outcome.notices.append(gettext("文件已导入过，没有变化：没有新增或修改任何记录。"))
            audit(
                event="import.completed",
                actor=actor,
                obj=job,
                object_type=f"import.{importer.kind}",
                object_repr=file_name[:200],
                actor_name="" if actor else "system:import",
                ip=job.ip if job is not None else "",
                request_id=job.request_id if job is not None else "",
                reason=(gettext("%(label)s导入") % {"label": importer.label})
                + (gettext("（只导入无误的行）") if only_valid else ""),
                changes={
                    "file": file_name[:200],
                    "rows": total,
                    "created": outcome.created,
                    "updated": outcome.updated,
                    "unchanged": outcome.unchanged,
                    "skipped": outcome.skipped,
                },
            )
            if job is not None:
                _finish_job(job, outcome)
        return outcome
    _fill(outcome, importer)
    if outcome.nothing_to_do:
        outcome.notices.append(
            gettext("文件已导入过，没有变化：全部数据与系统中一致，确认导入也不会修改任何记录。")
        )
    return outcome


def _fill(outcome: Outcome, importer: BaseImporter) -> None:
    outcome.errors = sorted(importer.errors, key=lambda e: e["row"])
    outcome.error_rows = len(importer.bad_rows)
    outcome.valid_rows = outcome.total_rows - outcome.error_rows
    outcome.skipped = outcome.error_rows
    outcome.notices = list(importer.notices) + outcome.notices
    if importer.error_count > len(importer.errors):
        outcome.notices.append(
            gettext("错误过多，只列出了前 %(len)s 条（共 %(error_count)s 条）。")
            % {"len": format(len(importer.errors), ","), "error_count": format(importer.error_count, ",")}
        )
    for key, value in importer.counts().items():
        setattr(outcome, key, value)
    outcome.preview = importer.preview_rows()


def _finish_job(job: ImportJob, outcome: Outcome) -> None:
    job.status = ImportJob.Status.DONE
    job.total_rows, job.valid_rows, job.error_rows = (
        outcome.total_rows,
        outcome.valid_rows,
        outcome.error_rows,
    )
    job.errors, job.notices = outcome.errors, outcome.notices
    job.created_count, job.updated_count = outcome.created, outcome.updated
    job.unchanged_count, job.skipped_count = outcome.unchanged, outcome.skipped
    job.progress = job.progress_total = outcome.created + outcome.updated
    job.finished_at = job.heartbeat_at = timezone.now()
    job.save(
        update_fields=[
            "status",
            "total_rows",
            "valid_rows",
            "error_rows",
            "errors",
            "notices",
            "created_count",
            "updated_count",
            "unchanged_count",
            "skipped_count",
            "progress",
            "progress_total",
            "finished_at",
            "heartbeat_at",
        ]
    )


# --- jobs: progress, heartbeat, reaping ------------------------------------------------


class JobProgress:
    """Progress callback for a job: writes progress and the heartbeat at most twice a second.

    Validation runs in autocommit, so a plain UPDATE is visible at once. During the apply
    transaction an UPDATE of our own would stay invisible until commit (and on SQLite nothing
    else can write at all), so on PostgreSQL a short-lived second connection writes it; on SQLite
    the heartbeat written just before the transaction has to last (see ``stale_after``).
    """

    def __init__(self, job: ImportJob, *, echo: Callable[[str], None] | None = None) -> None:
        self.job_id = job.pk
        self.echo = echo
        self.last = 0.0
        self.side = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.echo and phase == "apply":
            self.echo(f"applied {done}")
        now = timezone.now()
        if done < total and now.timestamp() - self.last < 0.5:
            return
        self.last = now.timestamp()
        if phase == "apply" and connection.in_atomic_block:
            self._side_write(done, total, now)
        else:
            ImportJob.objects.filter(pk=self.job_id).update(
                progress=done, progress_total=total, heartbeat_at=now
            )

    def _side_write(self, done: int, total: int, now: dt.datetime) -> None:
        if connection.vendor != "postgresql":
            return
        try:
            if self.side is None:
                self.side = connections.create_connection("default")
            with self.side.cursor() as cursor:
                cursor.execute("SET lock_timeout = '500ms'")
                cursor.execute(
                    "UPDATE members_importjob SET progress = %s, progress_total = %s, heartbeat_at = %s "
                    "WHERE id = %s",
                    [done, total, now, self.job_id],
                )
        except DatabaseError:
            logger.warning("import job %s: progress update skipped", self.job_id)

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


def stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "JINSHEQU_IMPORT_STALE_SECONDS", 300)))


def keep_uploads() -> dt.timedelta:
    return dt.timedelta(hours=int(getattr(settings, "JINSHEQU_IMPORT_KEEP_HOURS", 24)))


def reap_stale_jobs(*, now: dt.datetime | None = None, older_than: dt.timedelta | None = None) -> int:
    """Mark running jobs whose heartbeat is older than ``older_than`` as failed; return how many.

    A killed import leaves its job "validating" or "applying" forever; its transaction was rolled
    back by the database, so failed is the truth. Uploads waiting for a confirmation longer than
    ``keep_uploads()`` expire the same way, so no spreadsheet of ID numbers lingers on disk. Reads
    first, so that it costs no write (and no SQLite write lock) when nothing is stale.
    """
    now = now or timezone.now()
    cutoff = now - (older_than if older_than is not None else stale_after())
    running = [ImportJob.Status.VALIDATING, ImportJob.Status.APPLYING]
    stale = (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)) & Q(
        status__in=running
    )
    expired = Q(status=ImportJob.Status.READY, created_at__lt=now - keep_uploads())
    jobs = list(ImportJob.objects.filter(stale | expired).only("pk", "status", "upload"))
    reaped = 0
    for job in jobs:
        message = (
            gettext("上传后超过 24 小时未确认，文件已删除，没有写入任何数据。请重新上传。")
            if job.status == ImportJob.Status.READY
            else gettext("导入进程意外中断（长时间没有响应），没有写入任何数据。请重新上传文件导入。")
        )
        try:
            done = ImportJob.objects.filter(stale | expired, pk=job.pk).update(
                status=ImportJob.Status.FAILED, finished_at=now, message=message, upload=""
            )
        except DatabaseError:  # SQLite: another import holds the write lock; try again next time
            break
        if done:
            reaped += 1
            _delete_upload(job)
    return reaped


def _delete_upload(job: ImportJob) -> None:
    if job.upload:
        job.upload.storage.delete(job.upload.name)


# --- the registry: each app that imports spreadsheets registers its importer (in its AppConfig.ready) ---
@dataclasses.dataclass(frozen=True)
class Registered:
    importer: type[BaseImporter]
    perm: str  # the permission to import this kind (``accounts.perms.Perm``)
    upload_url: str  # URL name of the kind's upload page
    sheet: str  # the template's sheet name (lazy)
    template_name: str  # the template's download name (lazy)
    notes: Callable[[], list[tuple[str, str]]] = list  # extra lines for the template's instructions sheet


_REGISTRY: dict[str, Registered] = {}


def register(
    importer: type[BaseImporter],
    *,
    perm: str,
    upload_url: str,
    sheet: str,
    template_name: str,
    notes: Callable[[], list[tuple[str, str]]] = list,
) -> None:
    _REGISTRY[importer.kind] = Registered(importer, perm, upload_url, sheet, template_name, notes)


def registered(kind: str) -> Registered:
    """The registration of ``kind``; an unknown kind falls back to members (the default kind)."""
    return _REGISTRY.get(kind) or _REGISTRY[ImportJob.Kind.MEMBERS]


def importer_for(kind: str) -> type[BaseImporter]:
    return registered(kind).importer


UPLOAD_SUFFIX = ".enc"  # stored uploads are encrypted (core.crypto); the readers get a plain copy briefly
UPLOAD_PURPOSE = "import_upload"


def store_upload(job: ImportJob, name: str, data: bytes) -> None:
    """Keep an upload (members' ID numbers and phones in plain text) encrypted at rest under
    ``MEDIA_ROOT/imports`` while its job waits for validation and confirmation."""
    job.upload.save(
        name + UPLOAD_SUFFIX, ContentFile(crypto.encrypt_bytes(data, purpose=UPLOAD_PURPOSE)), save=False
    )


@contextlib.contextmanager
def plain_copy(data: bytes, suffix: str) -> Iterator[Path]:
    """``data`` in a private temporary file (mode 0600) for the file readers, removed when they are done."""
    fd, name = tempfile.mkstemp(prefix="jsq-import-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def import_job_create(
    *, kind: str, user, file_name: str, data: bytes, ip: str = "", request_id: str = ""
) -> ImportJob:
    """Accept an uploaded spreadsheet: check it as a whole (``UnsafeFile``) in a private temporary copy, keep
    it encrypted under a random name (``store_upload``), create its job and queue the validation."""
    suffix = Path(file_name).suffix.lower()
    with plain_copy(data, suffix) as path:
        check_file(path, file_name)
    job = ImportJob(
        kind=kind,
        created_by=user,
        file_name=Path(file_name).name[:200],
        file_sha256=hashlib.sha256(data).hexdigest(),
        file_size=len(data),
        ip=ip[:45],
        request_id=request_id[:32],
        heartbeat_at=timezone.now(),
    )
    store_upload(job, f"{uuid.uuid4().hex}{suffix}", data)
    job.save()
    from jinshequ.imports.tasks import validate_import_job  # tasks import this module

    validate_import_job.enqueue(job.pk)
    return job


@contextlib.contextmanager
def _job_file(job: ImportJob) -> Iterator[Path]:
    """The job's upload as a plain file, only while a pass reads it (an unencrypted upload as it is)."""
    name = job.upload.name
    if not name.endswith(UPLOAD_SUFFIX):
        yield Path(job.upload.path)
        return
    with job.upload.open("rb") as fh:
        blob = fh.read()
    try:
        data = crypto.decrypt_bytes(blob, purpose=UPLOAD_PURPOSE)
    except crypto.DecryptionError:
        raise UnsafeFile(
            "unreadable", gettext("上传的文件无法解密（密钥可能已更换），请重新上传。")
        ) from None
    with plain_copy(data, Path(name.removesuffix(UPLOAD_SUFFIX)).suffix) as path:
        yield path


def _job_user_may_import(job: ImportJob) -> bool:
    """A queued job runs with its creator's scope: refuse it if the account is gone, disabled or no
    longer allowed to import (never fall back to the unscoped system importer)."""
    return job.created_by is not None and user_has_perm(job.created_by, registered(job.kind).perm)


def run_job_validation(job_id: int) -> None:
    """Worker side of an upload: validate the stored file and record the preview and errors."""
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.status != ImportJob.Status.VALIDATING:
        return
    if not _job_user_may_import(job):
        _fail(job, gettext("导入人的账号已停用或已没有导入权限，未做任何处理。"))
        return
    progress = JobProgress(job)
    importer = importer_for(job.kind)(user=job.created_by, progress=progress)
    try:
        with _job_file(job) as path:
            outcome = run_import(importer, path, job.file_name, apply=False)
    except UnsafeFile as exc:
        _fail(job, exc.message)
        return
    except Exception:
        logger.exception("import job %s: validation crashed", job_id)
        _fail(job, gettext("检查文件时发生内部错误，请稍后重试；如仍失败，请联系管理员并告知导入编号。"))
        return
    finally:
        progress.close()
    earlier = (
        (
            ImportJob.objects.filter(
                file_sha256=job.file_sha256,
                status=ImportJob.Status.DONE,
                created_by=job.created_by,
                kind=job.kind,
            )
            .exclude(pk=job.pk)
            .order_by("-finished_at")
            .first()
        )
        if job.file_sha256
        else None
    )
    notices = outcome.notices
    if earlier is not None:
        when = timezone.localtime(earlier.finished_at).strftime("%Y-%m-%d %H:%M")
        notices = [
            gettext("同一文件已于 %(when)s 导入过（导入 #%(pk)s）。") % {"when": when, "pk": earlier.pk},
            *notices,
        ]
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATING).update(
        status=ImportJob.Status.READY,
        total_rows=outcome.total_rows,
        valid_rows=outcome.valid_rows,
        error_rows=outcome.error_rows,
        errors=outcome.errors,
        preview=outcome.preview,
        notices=notices,
        planned={"created": outcome.created, "updated": outcome.updated, "unchanged": outcome.unchanged},
        skipped_count=outcome.skipped,
        progress=outcome.total_rows,
        progress_total=outcome.total_rows,
        heartbeat_at=timezone.now(),
        message="",
    )


def run_job_apply(job_id: int, *, echo: Callable[[str], None] | None = None) -> ImportJob | None:
    """Worker side of a confirmation: validate again and apply in one transaction."""
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.status != ImportJob.Status.APPLYING:
        return job
    if not _job_user_may_import(job):
        _fail(job, gettext("导入人的账号已停用或已没有导入权限，没有写入任何数据。"))
        return job
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now(), progress=0)
    progress = JobProgress(job, echo=echo)
    importer = importer_for(job.kind)(user=job.created_by, progress=progress)
    only_valid = job.mode == ImportJob.Mode.VALID_ONLY
    try:
        with _job_file(job) as path:
            run_import(
                importer,
                path,
                job.file_name,
                apply=True,
                only_valid=only_valid,
                actor=job.created_by,
                job=job,
            )
    except ImportHasErrors:
        # The data changed since the preview: show the new errors and let the user decide again.
        outcome = Outcome(total_rows=len(importer.rows))
        _fill(outcome, importer)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.READY,
            mode="",
            errors=outcome.errors,
            error_rows=outcome.error_rows,
            valid_rows=outcome.valid_rows,
            skipped_count=outcome.skipped,
            heartbeat_at=timezone.now(),
            message=gettext("导入前再次检查时发现了新的错误，没有写入任何数据。请查看错误后重新选择。"),
        )
        return job
    except UnsafeFile as exc:
        _fail(job, exc.message)
        return job
    except Exception:
        logger.exception("import job %s: apply crashed", job_id)
        _fail(
            job,
            gettext("导入时发生内部错误，已全部撤销，没有写入任何数据。请稍后重试；如仍失败，请联系管理员。"),
        )
        return job
    finally:
        progress.close()
    ImportJob.objects.filter(pk=job.pk).update(upload="")
    _delete_upload(job)
    return job


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED,
        message=message,
        upload="",
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    _delete_upload(job)


def error_report_rows(errors: list[dict]) -> Iterator[list]:
    for e in errors:
        yield [e["row"], e["column"], e["value"], e["message"]]


ERROR_REPORT_HEADERS = (_("行号"), _("列"), _("内容（已脱敏）"), _("问题"))


def write_error_report(target, errors: list[dict]) -> int:
    """The per-row error report as .xlsx (formula-safe writer from ``core.exports``)."""
    from jinshequ.core.exports import write_xlsx

    return write_xlsx(target, gettext("错误报告"), ERROR_REPORT_HEADERS, error_report_rows(errors))


def template_bytes(
    importer_cls: type[BaseImporter], *, sheet: str, notes: Iterable[tuple[str, str]] = ()
) -> bytes:
    """The downloadable template: headings in the first row, text format where Excel would mangle
    numbers, drop-down lists where the values are fixed, and an instructions sheet."""
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    ws = wb.add_worksheet(sheet)
    head = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    head_required = wb.add_format({"bold": True, "bg_color": "#FDE2E2", "border": 1, "font_color": "#9E1016"})
    text = wb.add_format({"num_format": "@"})
    for i, col in enumerate(importer_cls.columns):
        ws.write_string(0, i, col.heading, head_required if col.required else head)
        ws.set_column(i, i, col.width, text if col.text_format else None)
        choices = getattr(importer_cls, "choices", {}).get(col.key)
        if choices:
            ws.data_validation(
                1, i, 5000, i, {"validate": "list", "source": list(choices), "error_type": "warning"}
            )
    ws.freeze_panes(1, 0)
    help_ws = wb.add_worksheet("填写说明")
    help_ws.set_column(0, 0, 16)
    help_ws.set_column(1, 1, 8)
    help_ws.set_column(2, 2, 90)
    help_ws.write_string(0, 0, "列名", head)
    help_ws.write_string(0, 1, "必填", head)
    help_ws.write_string(0, 2, "说明", head)
    r = 1
    for col in importer_cls.columns:
        help_ws.write_string(r, 0, col.heading)
        help_ws.write_string(r, 1, "是" if col.required else "")
        alias = f"（也可写作：{'、'.join(col.aliases)}）" if col.aliases else ""
        help_ws.write_string(r, 2, f"{col.note}{alias}")
        r += 1
    r += 1
    for title, body in notes:
        help_ws.write_string(r, 0, title, head)
        help_ws.write_string(r, 2, body)
        r += 1
    wb.close()
    return buffer.getvalue()
