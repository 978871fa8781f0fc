"""Unit import upload page; the job pages (detail, confirm, error report) are shared with members."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from jinshequ.accounts.perms import Perm, require_perm
from jinshequ.members.import_views import UploadForm, _max_mb, handle_upload, recent_jobs
from jinshequ.members.models import ImportJob
from jinshequ.units.imports import UnitImporter


@require_http_methods(["GET", "POST"])
@require_perm(Perm.UNIT_IMPORT)
def unit_import(request):
    form = UploadForm()
    if request.method == "POST":
        form, job = handle_upload(request, ImportJob.Kind.UNITS)
        if job is not None:
            return redirect("members:import_detail", pk=job.pk)
    return render(request, "units/import.html", {
        "form": form, "columns": UnitImporter.columns, "jobs": recent_jobs(request.user, ImportJob.Kind.UNITS),
        "max_mb": _max_mb(),
    })
