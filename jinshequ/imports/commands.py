"""The base of the ``import_<kind>`` commands (``jinshequ import members FILE [--dry-run]``, ``import units``):
import a registered kind from .xlsx or .csv.

Validates every row first; writes nothing if any row has an error (unless ``--valid-only``), and
writes everything in one transaction, printing ``applied N`` as it goes. ``--user`` imports within
that user's scope and records them as the actor; without it the import runs as the system with
the whole city in scope.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from jinshequ.accounts.models import User
from jinshequ.accounts.perms import user_has_perm
from jinshequ.core.xlsxsafe import UnsafeFile
from jinshequ.imports.models import ImportJob
from jinshequ.imports.services import (
    BaseImporter,
    ImportHasErrors,
    JobProgress,
    file_sha256,
    registered,
    run_import,
    write_error_report,
)

SHOWN_ERRORS = 50


class ImportCommand(BaseCommand):
    """Subclasses name their ``importer_class`` (registered with ``imports.services.register``) and ``help``."""

    importer_class: type[BaseImporter]

    def add_arguments(self, parser):
        parser.add_argument("file", help="要导入的 .xlsx 或 .csv 文件")
        parser.add_argument(
            "--dry-run", action="store_true", help="只检查并报告将要进行的修改，不写入任何数据"
        )
        parser.add_argument("--valid-only", action="store_true", help="有错误时只导入无误的行")
        parser.add_argument("--user", help="以该用户的身份和管辖范围导入（用户名）")
        parser.add_argument("--error-report", help="把错误报告写入这个 .xlsx 文件")

    def out(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"找不到文件：{path}")
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"没有名为 {options['user']} 的有效用户。")
            if not user_has_perm(user, registered(self.importer_class.kind).perm):
                raise CommandError(f"用户 {user.username} 没有导入{self.importer_class.label}的权限。")
        name = path.name
        if options["dry_run"]:
            importer = self.importer_class(user=user)
            try:
                outcome = run_import(importer, path, name, apply=False)
            except UnsafeFile as exc:
                raise CommandError(exc.message) from None
            self.report(outcome.errors, importer.error_count, options)
            self.out(
                f"dry run: {outcome.total_rows} rows, would create {outcome.created}, update "
                f"{outcome.updated}, unchanged {outcome.unchanged}, rows with errors {outcome.error_rows}"
            )
            for notice in outcome.notices:
                self.out(notice)
            if outcome.error_rows and not options["valid_only"]:
                raise CommandError(f"文件有 {outcome.error_rows} 行错误，未写入任何数据（试运行）。")
            return
        job = ImportJob.objects.create(
            kind=self.importer_class.kind,
            status=ImportJob.Status.APPLYING,
            created_by=user,
            file_name=name[:200],
            file_sha256=file_sha256(path),
            file_size=path.stat().st_size,
            heartbeat_at=timezone.now(),
            mode=ImportJob.Mode.VALID_ONLY if options["valid_only"] else ImportJob.Mode.ALL,
            request_id=f"cli-{os.getpid()}",
        )
        self.out(f"import job {job.pk}")
        progress = JobProgress(job, echo=self.out)
        importer = self.importer_class(user=user, progress=progress)
        try:
            outcome = run_import(
                importer, path, name, apply=True, only_valid=options["valid_only"], actor=user, job=job
            )
        except UnsafeFile as exc:
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.FAILED, message=exc.message, finished_at=timezone.now()
            )
            raise CommandError(exc.message) from None
        except ImportHasErrors:
            rows = len(importer.bad_rows)
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.FAILED,
                finished_at=timezone.now(),
                errors=importer.errors[:1000],
                error_rows=rows,
                total_rows=len(importer.rows),
                message=f"文件有 {rows} 行错误，未写入任何数据。",
            )
            self.report(sorted(importer.errors, key=lambda e: e["row"]), importer.error_count, options)
            raise CommandError(
                f"文件有 {rows} 行错误，未写入任何数据。修正后重新导入，或加 --valid-only 只导入无误的行。"
            ) from None
        finally:
            progress.close()
        self.report(outcome.errors, importer.error_count, options)
        for notice in outcome.notices:
            self.out(notice)
        self.out(
            f"done: created {outcome.created}, updated {outcome.updated}, unchanged {outcome.unchanged}, "
            f"skipped {outcome.skipped}"
        )

    def report(self, errors: list[dict], count: int, options) -> None:
        for e in errors[:SHOWN_ERRORS]:
            self.stderr.write(f"第 {e['row']} 行 [{e['column']}] {e['value']}：{e['message']}")
        if count > SHOWN_ERRORS:
            self.stderr.write(f"……共 {count} 处错误。")
        if options.get("error_report") and errors:
            write_error_report(options["error_report"], errors)
            self.stderr.write(f"错误报告已写入 {options['error_report']}")
