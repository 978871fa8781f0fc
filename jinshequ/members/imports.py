"""Spreadsheet imports: the shared engine and the members importer.

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

``run_import`` drives the passes; the UI (``import_views``), the task worker (``tasks``) and the
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
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.access import Kind, kind_of
from jinshequ.accounts.models import AuditEvent
from jinshequ.accounts.services import _actor_fields, audit, audit_bulk
from jinshequ.core import crypto
from jinshequ.core.bulk import RowInserter
from jinshequ.core.idcard import (
    id_birth_date,
    id_gender,
    mask_id_number,
    mask_phone,
    validate_id_number,
    validate_phone,
)
from jinshequ.core.logging import mask_text
from jinshequ.core.pinyin import name_pinyin
from jinshequ.core.xlsxsafe import MAX_ROWS, UnsafeFile, check_file, iter_csv
from jinshequ.members.models import (
    ID_PURPOSE,
    PHONE_PURPOSE,
    Gender,
    ImportJob,
    Member,
    MemberStatus,
    PartyStatus,
    Skill,
    UnitChange,
)

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
    return gettext("您是不是要找：%(join)s？") % {"join": gettext('、').join(close)} if close else ""


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
            self.errors.append({"row": row, "column": heading, "value": masked_cell(value, kind=mask),
                                "message": str(message)})  # a lazy message would not serialise

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
                found = {i: index[h] for i, h in ((i, normalize_heading(c)) for i, c in enumerate(cells))
                         if h in index}
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
                raise UnsafeFile("too_many_rows", gettext("文件数据超过 %(max_rows)s 行，请拆分后分批导入。") % {"max_rows": format(MAX_ROWS, ",")})
            rows.append(SourceRow(number, values))
        if header is None:
            raise UnsafeFile("no_heading", gettext("找不到标题行。请使用导入模板，第一行填写列名（如“%(heading)s”）。") % {"heading": self.columns[0].heading})
        if not rows:
            raise UnsafeFile("no_rows", gettext("文件中没有数据行。"))
        self.rows = rows

    def _check_heading(self, cells: list, mapping: dict[int, str]) -> None:
        seen: dict[str, int] = {}
        for i, key in mapping.items():
            if key in seen:
                raise UnsafeFile("duplicate_column", gettext("“%(heading)s”列出现了两次（第 %(value)s 列和第 %(value2)s 列），请删除其中一列。") % {"heading": self.by_key[key].heading, "value": seen[key] + 1, "value2": i + 1})
            seen[key] = i
        self.present = set(seen)
        missing = [c.heading for c in self.columns if c.required and c.key not in seen]
        if missing:
            raise UnsafeFile("missing_columns", gettext("缺少必填列：%(join)s。请使用导入模板，或检查列名是否写错。") % {"join": gettext('、').join(missing)})
        unknown = [cell_text(c) for i, c in enumerate(cells) if i not in mapping and cell_text(c)]
        if unknown:
            self.notices.append(gettext("以下列无法识别，已忽略：%(join)s%(value)s。") % {"join": gettext('、').join(unknown[:10]), "value": gettext(' 等') if len(unknown) > 10 else ''})

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
            if str(meta.typ).endswith("WorkSheet") and str(meta.visible).endswith("Visible") \
                    and not str(meta.visible).endswith("Hidden"):
                index = i
                break
        sheet = workbook.get_sheet_by_index(index)
        if sheet.height > MAX_ROWS + HEADER_SEARCH_ROWS + 1:
            raise UnsafeFile("too_many_rows", gettext("文件数据超过 %(max_rows)s 行，请拆分后分批导入。") % {"max_rows": format(MAX_ROWS, ",")})
        rows = sheet.iter_rows()
    except UnsafeFile:
        raise
    except Exception:  # calamine raises its own error types for every kind of damage
        raise UnsafeFile("unreadable", gettext("无法读取文件内容，请用 Excel 打开后重新另存为 .xlsx 再上传。")) from None
    yield from rows


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_import(importer: BaseImporter, path: str | Path, file_name: str, *, apply: bool,
               only_valid: bool = False, actor=None, job: ImportJob | None = None) -> Outcome:
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


def _run(importer: BaseImporter, path: str | Path, file_name: str, *, apply: bool, only_valid: bool, actor,
         job: ImportJob | None) -> Outcome:
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
            audit(event="import.completed", actor=actor, obj=job, object_type=f"import.{importer.kind}",
                  object_repr=file_name[:200], actor_name="" if actor else "system:import",
                  ip=job.ip if job is not None else "", request_id=job.request_id if job is not None else "",
                  reason=(gettext("%(label)s导入") % {"label": importer.label}) + (gettext("（只导入无误的行）") if only_valid else ""),
                  changes={"file": file_name[:200], "rows": total, "created": outcome.created,
                           "updated": outcome.updated, "unchanged": outcome.unchanged,
                           "skipped": outcome.skipped})
            if job is not None:
                _finish_job(job, outcome)
        return outcome
    _fill(outcome, importer)
    if outcome.nothing_to_do:
        outcome.notices.append(gettext("文件已导入过，没有变化：全部数据与系统中一致，确认导入也不会修改任何记录。"))
    return outcome


def _fill(outcome: Outcome, importer: BaseImporter) -> None:
    outcome.errors = sorted(importer.errors, key=lambda e: e["row"])
    outcome.error_rows = len(importer.bad_rows)
    outcome.valid_rows = outcome.total_rows - outcome.error_rows
    outcome.skipped = outcome.error_rows
    outcome.notices = list(importer.notices) + outcome.notices
    if importer.error_count > len(importer.errors):
        outcome.notices.append(gettext("错误过多，只列出了前 %(len)s 条（共 %(error_count)s 条）。") % {"len": format(len(importer.errors), ","), "error_count": format(importer.error_count, ",")})
    for key, value in importer.counts().items():
        setattr(outcome, key, value)
    outcome.preview = importer.preview_rows()


def _finish_job(job: ImportJob, outcome: Outcome) -> None:
    job.status = ImportJob.Status.DONE
    job.total_rows, job.valid_rows, job.error_rows = outcome.total_rows, outcome.valid_rows, outcome.error_rows
    job.errors, job.notices = outcome.errors, outcome.notices
    job.created_count, job.updated_count = outcome.created, outcome.updated
    job.unchanged_count, job.skipped_count = outcome.unchanged, outcome.skipped
    job.progress = job.progress_total = outcome.created + outcome.updated
    job.finished_at = job.heartbeat_at = timezone.now()
    job.save(update_fields=["status", "total_rows", "valid_rows", "error_rows", "errors", "notices",
                            "created_count", "updated_count", "unchanged_count", "skipped_count",
                            "progress", "progress_total", "finished_at", "heartbeat_at"])


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
            ImportJob.objects.filter(pk=self.job_id).update(progress=done, progress_total=total, heartbeat_at=now)

    def _side_write(self, done: int, total: int, now: dt.datetime) -> None:
        if connection.vendor != "postgresql":
            return
        try:
            if self.side is None:
                self.side = connections.create_connection("default")
            with self.side.cursor() as cursor:
                cursor.execute("SET lock_timeout = '500ms'")
                cursor.execute("UPDATE members_importjob SET progress = %s, progress_total = %s, heartbeat_at = %s "
                               "WHERE id = %s", [done, total, now, self.job_id])
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
    stale = (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)) & Q(status__in=running)
    expired = Q(status=ImportJob.Status.READY, created_at__lt=now - keep_uploads())
    jobs = list(ImportJob.objects.filter(stale | expired).only("pk", "status", "upload"))
    reaped = 0
    for job in jobs:
        message = (gettext("上传后超过 24 小时未确认，文件已删除，没有写入任何数据。请重新上传。")
                   if job.status == ImportJob.Status.READY else
                   gettext("导入进程意外中断（长时间没有响应），没有写入任何数据。请重新上传文件导入。"))
        try:
            done = ImportJob.objects.filter(stale | expired, pk=job.pk).update(
                status=ImportJob.Status.FAILED, finished_at=now, message=message, upload="")
        except DatabaseError:  # SQLite: another import holds the write lock; try again next time
            break
        if done:
            reaped += 1
            _delete_upload(job)
    return reaped


def _delete_upload(job: ImportJob) -> None:
    if job.upload:
        job.upload.storage.delete(job.upload.name)


def importer_for(kind: str) -> type[BaseImporter]:
    if kind == ImportJob.Kind.UNITS:
        from jinshequ.units.imports import UnitImporter

        return UnitImporter
    return MemberImporter


UPLOAD_SUFFIX = ".enc"  # stored uploads are encrypted (core.crypto); the readers get a plain copy briefly
UPLOAD_PURPOSE = "import_upload"


def store_upload(job: ImportJob, name: str, data: bytes) -> None:
    """Keep an upload (members' ID numbers and phones in plain text) encrypted at rest under
    ``MEDIA_ROOT/imports`` while its job waits for validation and confirmation."""
    job.upload.save(name + UPLOAD_SUFFIX, ContentFile(crypto.encrypt_bytes(data, purpose=UPLOAD_PURPOSE)),
                    save=False)


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


def import_job_create(*, kind: str, user, file_name: str, data: bytes, ip: str = "",
                      request_id: str = "") -> ImportJob:
    """Accept an uploaded spreadsheet: check it as a whole (``UnsafeFile``) in a private temporary copy, keep
    it encrypted under a random name (``store_upload``), create its job and queue the validation."""
    suffix = Path(file_name).suffix.lower()
    with plain_copy(data, suffix) as path:
        check_file(path, file_name)
    job = ImportJob(kind=kind, created_by=user, file_name=Path(file_name).name[:200],
                    file_sha256=hashlib.sha256(data).hexdigest(), file_size=len(data), ip=ip[:45],
                    request_id=request_id[:32], heartbeat_at=timezone.now())
    store_upload(job, f"{uuid.uuid4().hex}{suffix}", data)
    job.save()
    from jinshequ.members.tasks import validate_import_job

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
        raise UnsafeFile("unreadable", gettext("上传的文件无法解密（密钥可能已更换），请重新上传。")) from None
    with plain_copy(data, Path(name.removesuffix(UPLOAD_SUFFIX)).suffix) as path:
        yield path


def _job_user_may_import(job: ImportJob) -> bool:
    """A queued job runs with its creator's scope: refuse it if the account is gone, disabled or no
    longer allowed to import (never fall back to the unscoped system importer)."""
    from jinshequ.accounts.perms import Perm, user_has_perm

    perm = Perm.UNIT_IMPORT if job.kind == ImportJob.Kind.UNITS else Perm.MEMBER_IMPORT
    return job.created_by is not None and user_has_perm(job.created_by, perm)


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
    earlier = (ImportJob.objects.filter(file_sha256=job.file_sha256, status=ImportJob.Status.DONE,
                                        created_by=job.created_by, kind=job.kind)
               .exclude(pk=job.pk).order_by("-finished_at").first()) if job.file_sha256 else None
    notices = outcome.notices
    if earlier is not None:
        when = timezone.localtime(earlier.finished_at).strftime("%Y-%m-%d %H:%M")
        notices = [gettext("同一文件已于 %(when)s 导入过（导入 #%(pk)s）。") % {"when": when, "pk": earlier.pk}, *notices]
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATING).update(
        status=ImportJob.Status.READY, total_rows=outcome.total_rows, valid_rows=outcome.valid_rows,
        error_rows=outcome.error_rows, errors=outcome.errors, preview=outcome.preview, notices=notices,
        planned={"created": outcome.created, "updated": outcome.updated, "unchanged": outcome.unchanged},
        skipped_count=outcome.skipped, progress=outcome.total_rows, progress_total=outcome.total_rows,
        heartbeat_at=timezone.now(), message="")


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
            run_import(importer, path, job.file_name, apply=True, only_valid=only_valid, actor=job.created_by,
                       job=job)
    except ImportHasErrors:
        # The data changed since the preview: show the new errors and let the user decide again.
        outcome = Outcome(total_rows=len(importer.rows))
        _fill(outcome, importer)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.READY, mode="", errors=outcome.errors, error_rows=outcome.error_rows,
            valid_rows=outcome.valid_rows, skipped_count=outcome.skipped, heartbeat_at=timezone.now(),
            message=gettext("导入前再次检查时发现了新的错误，没有写入任何数据。请查看错误后重新选择。"))
        return job
    except UnsafeFile as exc:
        _fail(job, exc.message)
        return job
    except Exception:
        logger.exception("import job %s: apply crashed", job_id)
        _fail(job, gettext("导入时发生内部错误，已全部撤销，没有写入任何数据。请稍后重试；如仍失败，请联系管理员。"))
        return job
    finally:
        progress.close()
    ImportJob.objects.filter(pk=job.pk).update(upload="")
    _delete_upload(job)
    return job


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, message=message, upload="",
                                               finished_at=timezone.now(), heartbeat_at=timezone.now())
    _delete_upload(job)


def error_report_rows(errors: list[dict]) -> Iterator[list]:
    for e in errors:
        yield [e["row"], e["column"], e["value"], e["message"]]


ERROR_REPORT_HEADERS = (_("行号"), _("列"), _("内容（已脱敏）"), _("问题"))


def write_error_report(target, errors: list[dict]) -> int:
    """The per-row error report as .xlsx (formula-safe writer from ``core.exports``)."""
    from jinshequ.core.exports import write_xlsx

    return write_xlsx(target, gettext("错误报告"), ERROR_REPORT_HEADERS, error_report_rows(errors))


def template_bytes(importer_cls: type[BaseImporter], *, sheet: str, notes: Iterable[tuple[str, str]] = ()) -> bytes:
    """The downloadable template: headings in the first row, text format where Excel would mangle
    numbers, drop-down lists where the values are fixed, and an instructions sheet."""
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                      "strings_to_numbers": False, "strings_to_urls": False})
    ws = wb.add_worksheet(sheet)
    head = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    head_required = wb.add_format({"bold": True, "bg_color": "#FDE2E2", "border": 1, "font_color": "#9E1016"})
    text = wb.add_format({"num_format": "@"})
    for i, col in enumerate(importer_cls.columns):
        ws.write_string(0, i, col.heading, head_required if col.required else head)
        ws.set_column(i, i, col.width, text if col.text_format else None)
        choices = getattr(importer_cls, "choices", {}).get(col.key)
        if choices:
            ws.data_validation(1, i, 5000, i, {"validate": "list", "source": list(choices),
                                               "error_type": "warning"})
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


# --- members ---------------------------------------------------------------------------

MEMBER_COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", ("党员姓名", "名字"), required=True, note=_("最多 40 个字。"), width=10),
    Column("gender", "性别", (), note=_("男或女；可不填，按身份证号判断，填写时须与身份证号一致。"), width=6),
    Column("birth_date", "出生日期", ("出生年月日", "生日"),
           note=_("可不填；填写时须与身份证号一致，如 1980-01-02。"), width=12),
    Column("id_number", "身份证号", ("身份证号码", "公民身份号码", "身份证", "证件号码", "身份证件号码"), required=True,
           note=_("18 位，末位可为 X。请把这一列设为“文本”格式，否则 Excel 会把末几位变成 0。"), text_format=True,
           width=22),
    Column("phone", "手机号", ("手机", "手机号码", "联系电话", "电话", "联系方式"), note=_("11 位手机号。"),
           text_format=True, width=14),
    Column("unit", "所在单位", ("工作单位", "单位", "单位名称", "党员所在单位"), required=True,
           note=_("须与系统中的单位名称一致。"), width=24),
    Column("community", "居住社区", ("所在社区", "社区", "报到社区", "居住地社区"), required=True,
           note=_("社区名称；有重名时写成“街道/社区”或“区/街道/社区”。"), width=22),
    Column("address", "居住地址", ("家庭住址", "住址", "地址", "现住址", "家庭地址"), note=_("最多 200 个字。"), width=30),
    Column("party_status", "党员状态", ("党员类别", "党籍状态", "党员身份"), note=_("正式或预备；不填视为正式党员。"),
           width=10),
    Column("is_leading_cadre", "是否领导干部", ("领导干部",), note=_("是或否；不填视为否。"), width=12),
    Column("skills", "特长", ("个人特长", "专业特长"), note=_("须是系统中已有的特长，多个用顿号、逗号或分号分隔。"), width=20),
    Column("availability", "可服务时间", ("服务时间", "可参加活动时间"),
           note=_("工作日白天、工作日晚上、周末，可组合，用顿号分隔。"), width=22),
    Column("joined_party_on", "入党日期", ("入党时间",), note=_("如 2005-07-01。"), width=12),
)

AVAILABILITY_WORDS = {
    "工作日白天": "avail_weekday_day", "白天": "avail_weekday_day",
    "工作日晚上": "avail_weekday_evening", "工作日晚间": "avail_weekday_evening", "晚上": "avail_weekday_evening",
    "周末": "avail_weekend", "双休日": "avail_weekend", "节假日": "avail_weekend", "周末节假日": "avail_weekend",
}
AVAILABILITY_FIELDS = ("avail_weekday_day", "avail_weekday_evening", "avail_weekend")
PARTY_WORDS = {"正式": PartyStatus.FULL, "正式党员": PartyStatus.FULL,
               "预备": PartyStatus.PROBATIONARY, "预备党员": PartyStatus.PROBATIONARY}
GENDER_WORDS = {"男": Gender.MALE, "女": Gender.FEMALE, "m": Gender.MALE, "f": Gender.FEMALE}
COMPARED_FIELDS = ("name", "gender", "birth_date", "work_unit_id", "community_id", "address", "party_status",
                   "is_leading_cadre", *AVAILABILITY_FIELDS, "joined_party_on")
PHONE_FIELDS = ("phone_enc", "phone_hash", "phone_masked", "phone_tail")


@dataclasses.dataclass
class MemberRow:
    number: int
    id_number: str
    id_hash: str
    fields: dict[str, Any]  # only what the row fills in (blank cells leave existing values alone)
    phone: str | None
    skills: frozenset[int] | None


@dataclasses.dataclass
class PlannedMember:
    row: MemberRow
    action: str  # "create" | "update" | "unchanged"
    member_id: int | None = None
    changes: dict[str, list] = dataclasses.field(default_factory=dict)
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    skills_changed: bool = False


class MemberImporter(BaseImporter):
    kind = ImportJob.Kind.MEMBERS
    label = "党员"
    columns = MEMBER_COLUMNS
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "gender": ("男", "女"), "party_status": ("正式", "预备"), "is_leading_cadre": ("是", "否"),
    }

    def __init__(self, *, user=None, progress: ProgressFn | None = None) -> None:
        super().__init__(user=user, progress=progress)
        self.clean_rows: list[MemberRow] = []
        self.existing: dict[str, dict] = {}
        self.existing_skills: dict[int, set[int]] = defaultdict(set)
        self.plan: list[PlannedMember] = []
        self._memo: dict[str, dict[str, tuple[Any, list[str]]]] = {}
        self._id_rows: list[tuple[int, str, str]] = []  # (row, id number, hash) of every valid ID

    # -- reference data -----------------------------------------------------------------
    def prepare(self) -> None:  # noqa: B027 - an optional hook: nothing to load by default
        from jinshequ.regions.models import Region, RegionKind
        from jinshequ.regions.selectors import community_choices, region_list_for_user
        from jinshequ.units.models import WorkUnit
        from jinshequ.units.selectors import unit_choices_for_user

        user = self.user
        self.today = timezone.localdate()
        units = list(WorkUnit.objects.values_list("id", "name", "short_name", "is_active"))
        self.unit_names = {uid: name for uid, name, _s, _a in units}
        self.unit_exact = {name: uid for uid, name, _s, _a in units}
        self.unit_active = {uid for uid, _n, _s, active in units if active}
        self.unit_by_key: dict[str, list[int]] = defaultdict(list)
        short: dict[str, list[int]] = defaultdict(list)
        for uid, name, short_name, _a in units:
            self.unit_by_key[norm_key(name)].append(uid)
            if short_name:
                short[norm_key(short_name)].append(uid)
        for key, ids in short.items():
            if key not in self.unit_by_key and len(ids) == 1:
                self.unit_by_key[key] = ids
        if user is None:
            self.unit_scope = set(self.unit_active)
        else:
            self.unit_scope = set(unit_choices_for_user(user).values_list("id", flat=True))

        regions = {r[0]: r for r in Region.objects.values_list("id", "name", "kind", "parent_id", "is_active")}
        self.community_label: dict[int, str] = {}
        self.community_active: set[int] = set()
        self.community_by_key: dict[str, set[int]] = defaultdict(set)
        self.community_ancestors: dict[int, set[str]] = {}
        for rid, name, kind, parent_id, active in regions.values():
            if kind != RegionKind.COMMUNITY:
                continue
            chain = [name]
            pid = parent_id
            while pid is not None and pid in regions and regions[pid][2] != RegionKind.CITY:
                chain.insert(0, regions[pid][1])
                pid = regions[pid][3]
            self.community_label[rid] = "/".join(chain)
            if pid in regions:  # a full name may start with the city: 本溪市平山区…社区
                chain.insert(0, regions[pid][1])
            self.community_ancestors[rid] = {norm_key(n) for n in chain[:-1]}
            if active:
                self.community_active.add(rid)
            for start in range(len(chain)):
                self.community_by_key[norm_key("".join(chain[start:]))].add(rid)
        kind = Kind.CITY if user is None else kind_of(user)
        if kind is Kind.CITY:
            self.community_scope = set(self.community_active)
        elif kind is Kind.UNIT:
            self.community_scope = set(community_choices().values_list("id", flat=True))
        else:
            self.community_scope = set(region_list_for_user(user).filter(kind=RegionKind.COMMUNITY, is_active=True)
                                       .values_list("id", flat=True))
        skills = list(Skill.objects.values_list("id", "name", "is_active"))
        self.skill_by_key = {norm_key(name): (sid, name, active) for sid, name, active in skills}
        self.skill_names = {sid: name for sid, name, _a in skills}
        self.active_skill_names = [name for _i, name, active in skills if active]

    def _lookup(self, key: str, row: int, raw: Any, resolve: Callable[[str], tuple[Any, list[str]]]):
        """Resolve a cell once per distinct text (a city file names the same units thousands of
        times); errors are still reported on every row that has them."""
        text = cell_text(raw)
        memo = self._memo.setdefault(key, {})
        if text not in memo:
            memo[text] = resolve(text)
        value, messages = memo[text]
        for message in messages:
            self.error(row, key, raw, message)
        return value

    def find_unit(self, row: int, raw: Any) -> int | None:
        return self._lookup("unit", row, raw, self._resolve_unit)

    def find_community(self, row: int, raw: Any) -> int | None:
        return self._lookup("community", row, raw, self._resolve_community)

    def find_skills(self, row: int, raw: Any) -> frozenset[int] | None:
        return self._lookup("skills", row, raw, self._resolve_skills)

    def _resolve_unit(self, text: str) -> tuple[int | None, list[str]]:
        ids = self.unit_by_key.get(norm_key(text), [])
        if len(ids) > 1:  # names that differ only in spaces or full-width characters
            ids = [self.unit_exact[text]] if text in self.unit_exact else ids
            if len(ids) > 1:
                names = gettext("、").join(sorted(self.unit_names[u] for u in ids)[:5])
                return None, [gettext("有多个单位的名称与“%(text)s”相近（%(names)s），请照系统中的写法填写。") % {"text": text, "names": names}]
        if not ids:
            hint = suggest(text, (self.unit_names[u] for u in self.unit_scope))
            return None, [gettext("系统中没有名为“%(text)s”的单位。%(value)s") % {"text": text, "value": hint or gettext('请先添加该单位，或检查名称是否与系统中一致。')}]
        uid = ids[0]
        if uid not in self.unit_active:
            return None, [gettext("单位“%(text)s”已停用，不能再导入党员。") % {"text": text}]
        if uid not in self.unit_scope:
            return None, [gettext("该单位不在您的管辖范围内。")]
        return uid, []

    def _resolve_community(self, text: str) -> tuple[int | None, list[str]]:
        parts = [norm_key(p) for p in _PATH_SPLIT.split(text) if p.strip()]
        ids = set(self.community_by_key.get("".join(parts), set()))
        if not ids and len(parts) > 1:
            ids = {cid for cid in self.community_by_key.get(parts[-1], set())
                   if set(parts[:-1]) <= self.community_ancestors[cid]}
        if not ids:
            hint = suggest(text, (self.community_label[c].rsplit("/", 1)[-1] for c in self.community_scope))
            return None, [gettext("系统中没有名为“%(text)s”的社区。%(value)s") % {"text": text, "value": hint or gettext('请检查社区名称。')}]
        if len(ids) > 1:
            options = gettext("、").join(sorted(self.community_label[c] for c in ids)[:5])
            return None, [gettext("有多个社区叫“%(text)s”（%(options)s），请写成“街道/社区”以便区分。") % {"text": text, "options": options}]
        cid = ids.pop()
        if cid not in self.community_active:
            return None, [gettext("社区“%(text)s”已停用。") % {"text": text}]
        if cid not in self.community_scope:
            return None, [gettext("该社区不在您的管辖范围内。")]
        return cid, []

    def _resolve_skills(self, text: str) -> tuple[frozenset[int] | None, list[str]]:
        ids, messages = set(), []
        for word in split_list(text):
            found = self.skill_by_key.get(norm_key(word))
            if found is None:
                hint = suggest(word, self.active_skill_names)
                messages.append(gettext("系统中没有“%(word)s”这项特长。%(value)s") % {"word": word, "value": hint or gettext('请先在“特长”中添加，或删去该项。')})
            elif not found[2]:
                messages.append(gettext("特长“%(value)s”已停用。") % {"value": found[1]})
            else:
                ids.add(found[0])
        return (None if messages else frozenset(ids)), messages

    # -- pass 1 ------------------------------------------------------------------------
    def clean_all(self) -> None:
        total = len(self.rows)
        for i, source in enumerate(self.rows, start=1):
            cleaned = self.clean_row(source)
            if cleaned is not None:
                self.clean_rows.append(cleaned)
            if i % 2000 == 0:
                self.progress("validate", i, total)
        self.progress("validate", total, total)
        rows_by_hash: dict[str, list[int]] = defaultdict(list)
        for number, _id, id_hash in self._id_rows:
            rows_by_hash[id_hash].append(number)
        for number, id_number, id_hash in self._id_rows:
            numbers = rows_by_hash[id_hash]
            if len(numbers) > 1:
                others = gettext("、").join(str(n) for n in numbers if n != number)
                self.error(number, "id_number", id_number,
                           gettext("身份证号在文件中重复出现（另见第 %(others)s 行），每人只能有一行。") % {"others": others}, mask="id")

    def clean_row(self, source: SourceRow) -> MemberRow | None:  # noqa: C901 (one branch per column)
        v = source.values
        row = source.number
        errors_before = self.error_count
        fields: dict[str, Any] = {}

        name = _CJK_GAP.sub("", cell_text(v.get("name")))
        if not name:
            self.error(row, "name", "", gettext("请填写姓名。"))
        elif len(name) > 40:
            self.error(row, "name", name, gettext("姓名不能超过 40 个字。"))
        else:
            fields["name"] = name

        raw_id = v.get("id_number")
        number = ""
        if raw_id is None:
            self.error(row, "id_number", "", gettext("请填写身份证号。"))
        elif is_number(raw_id) or _SCIENTIFIC.match(cell_text(raw_id)):  # the latter: a CSV saved by Excel
            self.error(row, "id_number", raw_id, NUMERIC_ID_MESSAGE, mask="id")
        else:
            try:
                number = validate_id_number(cell_text(raw_id))
            except ValidationError as exc:
                self.error(row, "id_number", raw_id, exc.messages[0], mask="id")
        id_hash = ""
        if number:
            id_hash = crypto.blind_index(number, purpose=ID_PURPOSE)
            self._id_rows.append((row, number, id_hash))
            fields["gender"] = id_gender(number)
            fields["birth_date"] = id_birth_date(number)
            if "gender" in v:
                gender = GENDER_WORDS.get(cell_text(v["gender"]).lower())
                if gender is None:
                    self.error(row, "gender", v["gender"], gettext("性别只能填“男”或“女”。"))
                elif gender != fields["gender"]:
                    self.error(row, "gender", v["gender"], gettext("性别与身份证号不一致。"))
            if "birth_date" in v:
                try:
                    birth = parse_date(v["birth_date"])
                except ValueError:
                    self.error(row, "birth_date", v["birth_date"], gettext("日期格式不正确，应为 1980-01-02 这样的格式。"))
                else:
                    if birth != fields["birth_date"]:
                        self.error(row, "birth_date", v["birth_date"],
                                   gettext("出生日期与身份证号不一致（身份证号为 %(value)s）。") % {"value": format(fields['birth_date'], "%Y-%m-%d")})

        phone = None
        if "phone" in v:
            raw_phone = v["phone"]
            try:
                phone = validate_phone(cell_text(raw_phone))
            except ValidationError as exc:
                self.error(row, "phone", raw_phone, exc.messages[0], mask="phone")

        if "unit" in v:
            unit_id = self.find_unit(row, v["unit"])
            if unit_id is not None:
                fields["work_unit_id"] = unit_id
        else:
            self.error(row, "unit", "", gettext("请填写所在单位。"))
        if "community" in v:
            community_id = self.find_community(row, v["community"])
            if community_id is not None:
                fields["community_id"] = community_id
        else:
            self.error(row, "community", "", gettext("请填写居住社区。"))

        if "address" in v:
            address = cell_text(v["address"])
            if len(address) > 200:
                self.error(row, "address", address, gettext("居住地址不能超过 200 个字。"))
            else:
                fields["address"] = address
        if "party_status" in v:
            status = PARTY_WORDS.get(cell_text(v["party_status"]))
            if status is None:
                self.error(row, "party_status", v["party_status"], gettext("党员状态只能填“正式”或“预备”。"))
            else:
                fields["party_status"] = status
        if "is_leading_cadre" in v:
            try:
                fields["is_leading_cadre"] = parse_bool(v["is_leading_cadre"])
            except ValueError:
                self.error(row, "is_leading_cadre", v["is_leading_cadre"], gettext("是否领导干部只能填“是”或“否”。"))
        skills = None
        if "skills" in v:
            skills = self.find_skills(row, v["skills"])
        if "availability" in v:
            chosen = set()
            for word in split_list(v["availability"]):
                field = AVAILABILITY_WORDS.get(word)
                if field is None:
                    self.error(row, "availability", v["availability"],
                               gettext("无法识别“%(word)s”。可服务时间只能是“工作日白天”“工作日晚上”“周末”，多个用顿号分隔。") % {"word": word})
                    break
                chosen.add(field)
            else:
                for field in AVAILABILITY_FIELDS:
                    fields[field] = field in chosen
        if "joined_party_on" in v:
            try:
                joined = parse_date(v["joined_party_on"])
            except ValueError:
                self.error(row, "joined_party_on", v["joined_party_on"], gettext("日期格式不正确，应为 2005-07-01 这样的格式。"))
            else:
                if joined > self.today:
                    self.error(row, "joined_party_on", v["joined_party_on"], gettext("入党日期不能晚于今天。"))
                elif number and joined < _add_years(fields["birth_date"], 18):
                    self.error(row, "joined_party_on", v["joined_party_on"], gettext("入党日期早于年满 18 周岁的日期，请核对。"))
                else:
                    fields["joined_party_on"] = joined
        if self.error_count != errors_before:
            return None
        return MemberRow(row, number, id_hash, fields, phone, skills)

    # -- checks against the database ---------------------------------------------------
    def check_existing(self) -> None:  # noqa: B027 - an optional hook: no database checks by default
        from jinshequ.members.selectors import member_list_for_user

        self.existing = {}
        self.existing_skills = defaultdict(set)
        hashes = [r.id_hash for r in self.clean_rows]
        wanted = ("id", "id_number_hash", "phone_hash", "phone_masked", "status", *COMPARED_FIELDS)
        in_scope: set[int] = set()
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            chunk = hashes[start:start + LOOKUP_CHUNK]
            for values in Member.objects.filter(id_number_hash__in=chunk).values(*wanted):
                self.existing[values["id_number_hash"]] = values
            if self.user is not None:
                in_scope.update(member_list_for_user(self.user).filter(id_number_hash__in=chunk)
                                .values_list("id", flat=True))
        if self.user is None:
            in_scope = {values["id"] for values in self.existing.values()}
        ids = [values["id"] for values in self.existing.values()]
        through = Member.skills.through
        for start in range(0, len(ids), LOOKUP_CHUNK):
            for member_id, skill_id in through.objects.filter(member_id__in=ids[start:start + LOOKUP_CHUNK]) \
                    .values_list("member_id", "skill_id"):
                self.existing_skills[member_id].add(skill_id)
        for cleaned in self.clean_rows:
            old = self.existing.get(cleaned.id_hash)
            if old is None:
                continue
            if old["id"] not in in_scope:
                self.error(cleaned.number, "id_number", cleaned.id_number,
                           gettext("该身份证号已登记为您管辖范围以外的党员，不能通过导入修改，请联系上级管理员。"), mask="id")
            elif old["status"] == MemberStatus.MERGED:
                self.error(cleaned.number, "id_number", cleaned.id_number,
                           gettext("该身份证号属于一条已合并的重复记录，不能通过导入修改，请联系管理员核对。"), mask="id")
            elif norm_key(old["name"]) != norm_key(cleaned.fields["name"]):
                self.error(cleaned.number, "id_number", cleaned.id_number,
                           gettext("该身份证号已登记为另一名党员“%(value)s”，请核对身份证号或姓名。") % {"value": old['name']}, mask="id")

    # -- pass 2 ------------------------------------------------------------------------
    def build(self) -> None:
        self.plan = []
        for cleaned in self.clean_rows:
            if cleaned.number in self.bad_rows:
                continue
            old = self.existing.get(cleaned.id_hash)
            if old is None:
                self.plan.append(PlannedMember(cleaned, "create"))
                continue
            changes: dict[str, list] = {}
            values: dict[str, Any] = {}
            for field, new in cleaned.fields.items():
                if old[field] != new:
                    changes[field] = [_audit_str(old[field]), _audit_str(new)]
                    values[field] = new
            if cleaned.phone is not None and crypto.blind_index(cleaned.phone, purpose=PHONE_PURPOSE) != old["phone_hash"]:
                changes["phone"] = [old["phone_masked"] or None, mask_phone(cleaned.phone)]
            skills_changed = cleaned.skills is not None and set(cleaned.skills) != self.existing_skills[old["id"]]
            if skills_changed:
                changes["skills"] = [self._skill_label(self.existing_skills[old["id"]]), self._skill_label(cleaned.skills)]
            action = "update" if changes else "unchanged"
            self.plan.append(PlannedMember(cleaned, action, old["id"], changes, values, skills_changed))

    def _skill_label(self, ids: Iterable[int]) -> str:
        return gettext("、").join(sorted(self.skill_names[i] for i in ids))

    def counts(self) -> dict[str, int]:
        tally = {"create": 0, "update": 0, "unchanged": 0}
        for item in self.plan:
            tally[item.action] += 1
        return {"created": tally["create"], "updated": tally["update"], "unchanged": tally["unchanged"]}

    def preview_rows(self) -> list[dict]:
        out = []
        labels = {"create": gettext("新增"), "update": gettext("更新"), "unchanged": gettext("无变化")}
        for item in self.plan[:PREVIEW_ROWS]:
            r = item.row
            out.append({
                "row": r.number, "action": labels[item.action], "action_code": item.action, "name": r.fields["name"],
                "gender": str(Gender(r.fields["gender"]).label), "id_number": mask_id_number(r.id_number),
                "phone": mask_phone(r.phone) if r.phone else "",
                "unit": self.unit_names.get(r.fields.get("work_unit_id"), ""),
                "community": self.community_label.get(r.fields.get("community_id"), ""),
                "party_status": str(PartyStatus(r.fields["party_status"]).label) if "party_status" in r.fields else "",
                "changes": gettext("、").join(_FIELD_LABELS.get(k, k) for k in item.changes) if item.action == "update" else "",
            })
        return out

    # -- pass 3 ------------------------------------------------------------------------
    def save(self, *, actor, job: ImportJob | None) -> None:
        """Write the plan in chunks; the caller holds the transaction.

        New members go in through ``insert_rows`` (one ``executemany`` per chunk, values adapted by
        the model's own field metadata) because ``bulk_create`` costs about ten times the raw insert
        for a model this wide; ids are then read back by the unique ID hash. Audit rows go through
        ``audit_bulk``.
        """
        now = timezone.now()
        today = timezone.localdate()
        work = [p for p in self.plan if p.action != "unchanged"]
        total = len(work)
        self.progress("apply", 0, total)
        actor_fields = _actor_fields(actor)
        actor_fields["actor_id"] = getattr(actor_fields.pop("actor"), "pk", None)  # cheaper than the instance
        if actor is None:
            actor_fields["actor_name"] = "system:import"
        audit_base = {"created_at": now, "ip": job.ip if job else "", "request_id": job.request_id if job else "",
                      "object_type": "members.member", "success": True,
                      "reason": f"导入 #{job.pk}" if job else "命令行导入", **actor_fields}
        through = Member.skills.through
        member_insert = RowInserter(Member)
        link_insert = RowInserter(through)
        done = 0
        for start in range(0, total, APPLY_CHUNK):
            chunk = work[start:start + APPLY_CHUNK]
            creates = [p for p in chunk if p.action == "create"]
            updates = [p for p in chunk if p.action == "update"]
            events: list[AuditEvent] = []
            links: list[dict] = []
            if creates:
                member_insert.insert([self._new_member_values(p.row, now) for p in creates])
                ids = {}
                hashes = [p.row.id_hash for p in creates]
                for i in range(0, len(hashes), LOOKUP_CHUNK):
                    ids.update(Member.objects.filter(id_number_hash__in=hashes[i:i + LOOKUP_CHUNK])
                               .values_list("id_number_hash", "id"))
                for p in creates:
                    p.member_id = ids[p.row.id_hash]
                    links.extend({"member_id": p.member_id, "skill_id": s} for s in sorted(p.row.skills or ()))
                    events.append(AuditEvent(event="member.created", object_id=str(p.member_id),
                                             object_repr=mask_text(p.row.fields["name"]), **audit_base,
                                             changes={"name": [None, p.row.fields["name"]],
                                                      "id_number": [None, mask_id_number(p.row.id_number)]}))
            if updates:
                self._update_members(updates, now, today, actor)
                reskilled = [p.member_id for p in updates if p.skills_changed]
                if reskilled:
                    through.objects.filter(member_id__in=reskilled).delete()
                for p in updates:
                    if p.skills_changed:
                        links.extend({"member_id": p.member_id, "skill_id": s} for s in sorted(p.row.skills))
                    events.append(AuditEvent(event="member.updated", object_id=str(p.member_id),
                                             object_repr=mask_text(p.row.fields["name"]), changes=p.changes,
                                             **audit_base))
            if links:
                link_insert.insert(links)
            audit_bulk(events)
            done += len(chunk)
            self.progress("apply", done, total)

    def _new_member_values(self, r: MemberRow, now: dt.datetime) -> dict[str, Any]:
        """Column values of a new member, exactly what ``Member.set_id_number``/``set_phone`` store."""
        f = r.fields
        pinyin, initials = name_pinyin(f["name"])
        values = {
            "name": f["name"], "name_pinyin": pinyin, "name_initials": initials, "gender": f["gender"],
            "birth_date": f["birth_date"], "work_unit_id": f["work_unit_id"], "community_id": f["community_id"],
            "address": f.get("address", ""), "party_status": f.get("party_status", PartyStatus.FULL),
            "is_leading_cadre": f.get("is_leading_cadre", False), "joined_party_on": f.get("joined_party_on"),
            "status": MemberStatus.ACTIVE, "created_at": now, "updated_at": now,
            "id_number_enc": crypto.encrypt(r.id_number, purpose=ID_PURPOSE), "id_number_hash": r.id_hash,
            "id_number_masked": mask_id_number(r.id_number), "id_tail": r.id_number[-4:],
        }
        if "avail_weekend" in f:
            for field in AVAILABILITY_FIELDS:
                values[field] = f[field]
        if r.phone:
            values.update(phone_enc=crypto.encrypt(r.phone, purpose=PHONE_PURPOSE),
                          phone_hash=crypto.blind_index(r.phone, purpose=PHONE_PURPOSE),
                          phone_masked=mask_phone(r.phone), phone_tail=r.phone[-4:])
        return values

    def _update_members(self, updates: list[PlannedMember], now: dt.datetime, today: dt.date, actor) -> None:
        by_fields: dict[tuple[str, ...], list[Member]] = defaultdict(list)
        moves = []
        for p in updates:
            member = Member(pk=p.member_id, updated_at=now)
            fields = ["updated_at"]
            for field, value in p.values.items():
                setattr(member, field, value)
                fields.append(field)
            if "name" in p.values:
                member.name_pinyin, member.name_initials = name_pinyin(p.values["name"])
                fields += ["name_pinyin", "name_initials"]
            if "phone" in p.changes:
                member.set_phone(p.row.phone or "")
                fields += list(PHONE_FIELDS)
            if "work_unit_id" in p.values:
                old_unit = self.existing[p.row.id_hash]["work_unit_id"]
                moves.append(UnitChange(member_id=p.member_id, from_unit_id=old_unit,
                                        to_unit_id=p.values["work_unit_id"], changed_on=today,
                                        changed_by=actor if getattr(actor, "pk", None) else None))
            if len(fields) > 1:
                by_fields[tuple(fields)].append(member)
        for fields, members in by_fields.items():
            Member.objects.bulk_update(members, list(fields), batch_size=500)
        if moves:
            UnitChange.objects.bulk_create(moves, batch_size=1000)


_FIELD_LABELS = {"name": "姓名", "gender": "性别", "birth_date": "出生日期", "work_unit_id": "所在单位",
                 "community_id": "居住社区", "address": "居住地址", "party_status": "党员状态",
                 "is_leading_cadre": "领导干部", "avail_weekday_day": "可服务时间",
                 "avail_weekday_evening": "可服务时间", "avail_weekend": "可服务时间",
                 "joined_party_on": "入党日期", "phone": "手机号", "skills": "特长"}


def _audit_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def member_template_notes() -> list[tuple[str, str]]:
    skills = "、".join(Skill.objects.filter(is_active=True).values_list("name", flat=True))
    return [
        ("说明", "第一行是列名，请勿修改；列的顺序可以调整，不需要的选填列可以删除。每位党员一行。"),
        ("说明", "按身份证号识别党员：系统中已有的党员会被更新，没有的会被新增；重复导入同一文件不会产生重复记录。"),
        ("说明", "选填列留空时，不会清除系统中已有的信息。"),
        ("可选特长", skills or "（暂无）"),
    ]
