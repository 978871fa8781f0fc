"""Unit import upload page; the job pages (detail, confirm, error report) are in ``jinshequ.imports``."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from jinshequ.accounts.perms import Perm, require_perm
from jinshequ.imports.models import ImportJob
from jinshequ.imports.views import UploadForm, handle_upload, max_mb, recent_jobs
from jinshequ.units.importers import UnitImporter


@require_http_methods(["GET", "POST"])
@require_perm(Perm.UNIT_IMPORT)
def unit_import(request):
    form = UploadForm()
    if request.method == "POST":
        form, job = handle_upload(request, ImportJob.Kind.UNITS)
        if job is not None:
            return redirect("imports:detail", pk=job.pk)
    return render(
        request,
        "units/import.html",
        {
            "form": form,
            "columns": UnitImporter.columns,
            "jobs": recent_jobs(request.user, ImportJob.Kind.UNITS),
            "max_mb": max_mb(),
        },
    )
