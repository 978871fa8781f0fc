"""Import pages: upload → detail (preview, errors, progress) → confirm; template and error report.

The work happens in tasks (``imports.tasks``); these views only store the upload, show the job and
queue the next step. A job is visible to its creator only (everyone else gets 404). The job pages
serve every registered kind; each kind's upload page lives with its app (``members.views``,
``units.import_views``) on ``handle_upload`` and ``recent_jobs``.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.core.exports import content_disposition, xlsx_response
from jinshequ.core.middleware import client_ip
from jinshequ.core.xlsxsafe import UnsafeFile, check_upload, max_bytes
from jinshequ.imports.models import ImportJob
from jinshequ.imports.services import (
    ERROR_REPORT_HEADERS,
    error_report_rows,
    import_job_create,
    reap_stale_jobs,
    registered,
    template_bytes,
)
from jinshequ.imports.tasks import apply_import_job

ERRORS_PER_PAGE = 100
RECENT_JOBS = 10


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("选择文件"),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv",
                "class": "form-control",
            }
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            check_upload(upload.name, upload.size)
        except UnsafeFile as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
        return upload


def handle_upload(request, kind: str):
    """Shared by the member and unit upload pages. Returns (form, job or None)."""
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return form, None
    upload = form.cleaned_data["file"]
    try:
        job = import_job_create(
            kind=kind,
            user=request.user,
            file_name=upload.name,
            data=b"".join(upload.chunks()),
            ip=client_ip(request),
            request_id=getattr(request, "request_id", ""),
        )
    except UnsafeFile as exc:
        form.add_error("file", forms.ValidationError(exc.message, code=exc.code))
        return form, None
    return form, job


def recent_jobs(user, kind: str):
    reap_stale_jobs()
    return list(ImportJob.objects.filter(created_by=user, kind=kind).defer("errors", "preview")[:RECENT_JOBS])


def _get_job(request, pk) -> ImportJob:
    job = ImportJob.objects.filter(pk=pk, created_by=request.user).first()
    if job is None:
        raise Http404
    if not user_has_perm(request.user, registered(job.kind).perm):
        raise Http404
    return job


def max_mb() -> int:
    return max_bytes() // (1024 * 1024)


@require_GET
@require_perm(Perm.MEMBER_IMPORT)
def import_template(request):
    entry = registered(request.GET.get("kind", ImportJob.Kind.MEMBERS))
    if not user_has_perm(request.user, entry.perm):
        raise PermissionDenied
    data = template_bytes(entry.importer, sheet=str(entry.sheet), notes=entry.notes())
    filename = str(entry.template_name)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = content_disposition(filename)
    return response


@require_GET
@require_perm(Perm.MEMBER_IMPORT)
def import_detail(request, pk):
    job = _get_job(request, pk)
    if job.is_running and reap_stale_jobs():
        job.refresh_from_db()
    if request.htmx and request.GET.get("partial") == "progress":
        response = render(request, "imports/detail.html#progress", {"job": job})
        if not job.is_running:
            response["HX-Refresh"] = "true"  # the step finished: reload the whole page
        return response
    page = Paginator(job.errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    planned = job.planned or {}
    return render(
        request,
        "imports/detail.html",
        {
            "job": job,
            "page": page,
            "errors": page.object_list,
            "querystring_base": "",
            "preview": job.preview,
            "planned": planned,
            "can_import_all": job.status == ImportJob.Status.READY and not job.error_rows and job.valid_rows,
            "can_import_valid": job.status == ImportJob.Status.READY and job.error_rows and job.valid_rows,
            "nothing_to_do": job.status == ImportJob.Status.READY
            and job.valid_rows
            and not planned.get("created")
            and not planned.get("updated"),
            "upload_url": registered(job.kind).upload_url,
            "is_units": job.kind == ImportJob.Kind.UNITS,
        },
    )


@require_POST
@require_perm(Perm.MEMBER_IMPORT)
def import_confirm(request, pk):
    job = _get_job(request, pk)
    mode = request.POST.get("mode")
    if mode not in ImportJob.Mode.values:
        messages.error(request, gettext("请选择导入方式。"))
        return redirect("imports:detail", pk=job.pk)
    if mode == ImportJob.Mode.ALL and job.error_rows:
        messages.error(
            request, gettext("文件中有错误，不能全部导入。请修正后重新上传，或选择“只导入无误的行”。")
        )
        return redirect("imports:detail", pk=job.pk)
    if not job.valid_rows:
        messages.error(request, gettext("没有可以导入的行。"))
        return redirect("imports:detail", pk=job.pk)
    started = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.READY).update(
        status=ImportJob.Status.APPLYING,
        mode=mode,
        ip=client_ip(request),
        request_id=getattr(request, "request_id", "")[:32],
        heartbeat_at=timezone.now(),
        progress=0,
        progress_total=job.valid_rows,
        message="",
    )
    if not started:
        messages.warning(request, gettext("这个导入已经开始或已结束，不能重复确认。"))
        return redirect("imports:detail", pk=job.pk)
    apply_import_job.enqueue(job.pk)
    job.refresh_from_db()
    if job.status == ImportJob.Status.DONE:
        messages.success(request, _done_message(job))
    return redirect("imports:detail", pk=job.pk)


def _done_message(job: ImportJob) -> str:
    if not job.created_count and not job.updated_count:
        return gettext("导入完成：文件已导入过，没有变化。")
    return gettext("导入完成：新增 %(created_count)s 条，更新 %(updated_count)s 条。") % {
        "created_count": job.created_count,
        "updated_count": job.updated_count,
    }


@require_GET
@require_perm(Perm.MEMBER_IMPORT)
def import_errors(request, pk):
    job = _get_job(request, pk)
    if not job.errors:
        raise Http404
    return xlsx_response(
        gettext("导入错误报告-%(pk)s") % {"pk": job.pk}, ERROR_REPORT_HEADERS, error_report_rows(job.errors)
    )
