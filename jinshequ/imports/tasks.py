"""Background work for spreadsheet imports (django-tasks; the demo runs ``db_worker``, tests the
immediate backend). Task arguments are job ids only: the job row carries everything else."""

from __future__ import annotations

from django_tasks import task


@task()
def validate_import_job(job_id: int) -> None:
    from jinshequ.imports.services import run_job_validation

    run_job_validation(job_id)


@task()
def apply_import_job(job_id: int) -> None:
    from jinshequ.imports.services import run_job_apply

    run_job_apply(job_id)
