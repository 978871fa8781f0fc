"""Nightly maintenance, one cron line (see the README): close ended activities and record no-shows, fail
import jobs whose worker died, purge expired idempotency keys. Each job runs on its own: one failing does not
stop the others, and the command then exits non-zero so that cron reports it. Every job is safe to run again."""

import logging

from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger("jinshequ.jobs")


def _close_activities() -> str:
    from jinshequ.activities.services import activities_close_ended

    result = activities_close_ended()
    return f"activities closed: {result['activities']}, no-shows recorded: {result['no_shows']}"


def _reap_imports() -> str:
    from jinshequ.imports.services import reap_stale_jobs

    return f"stale import jobs failed: {reap_stale_jobs()}"


def _purge_idempotency() -> str:
    from jinshequ.core.idempotency import idempotency_purge

    return f"idempotency keys purged: {idempotency_purge()}"


JOBS = (
    ("activities_close_ended", _close_activities),
    ("import_jobs_reap", _reap_imports),
    ("idempotency_purge", _purge_idempotency),
)


class Command(BaseCommand):
    help = "Nightly maintenance: close ended activities (no-shows), reap dead import jobs, purge idempotency keys."

    def handle(self, *args, **options):
        failed = []
        for name, job in JOBS:
            try:
                self.stdout.write(f"{name}: {job()}")
            except Exception:  # noqa: BLE001 - one job's failure must not stop the others
                logger.exception("nightly job %s failed", name)
                self.stderr.write(f"{name}: FAILED (see the log)")
                failed.append(name)
        if failed:
            raise CommandError(f"nightly jobs failed: {', '.join(failed)}")
