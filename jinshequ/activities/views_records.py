"""Pages for service records, the community's verification queue, the resident's confirmation, the work
manual (web and PDF) and service certificates (PDF and the public check page).

Thin views: function-level access by permission (403), rows through ``records_selectors`` (404 out of scope,
same as missing), writes through ``activities.records``. Two pages are public (no login): the resident's
confirmation page and the certificate check page; neither shows a phone, an ID number or an address (R25).
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jinshequ.access import audiences
from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.activities import manual as mn
from jinshequ.activities import records as svc
from jinshequ.activities import records_selectors as sel
from jinshequ.activities.forms_records import (
    CertificateForm,
    ConfirmForm,
    ReasonForm,
    RecordFilterForm,
    RecordForm,
    attach_error,
)
from jinshequ.activities.manual import build_manual, manual_read_audit
from jinshequ.activities.models import EvidenceLevel, RecordStatus
from jinshequ.activities.policies import certificate_policy, record_policy
from jinshequ.activities.records import RecordError
from jinshequ.core.errors import error_message
from jinshequ.core.logging import mask_text
from jinshequ.core.pdf import PdfFontMissing, pdf_response, render_pdf
from jinshequ.core.qr import qr_svg
from jinshequ.members.cards import qr_png_uri
from jinshequ.members.reporting import card_token, current_registration, site_url

PAGE_SIZE = 50
QUEUE_SIZE = 100


def _any_perm(*perms):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not any(user_has_perm(request.user, p) for p in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_perms = perms
        return wrapped

    return decorator


def _staff_reader(view):
    """Staff who read manuals (community and unit admins, inspectors); members use their own pages."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if audiences.is_member(request.user) or not user_has_perm(request.user, Perm.MANUAL_VIEW):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _me(request):
    member = sel.member_of(request.user)
    if member is None:
        raise Http404
    return member


def _page(request, qs):
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, (f"{query.urlencode()}&" if query else "")


def _public(response):
    """Public pages (no login) that carry a token in the URL: never cached, never indexed."""
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _font_missing(request, exc: PdfFontMissing):
    return render(request, "cards/pdf_unavailable.html", {"message": exc.message}, status=503)


# --- the member ----------------------------------------------------------------------------------------


@require_GET
@require_perm(Perm.RECORD_SELF)
def my_records(request):
    member = _me(request)
    form = RecordFilterForm(request.GET or None, with_q=False)
    f = form.values()
    mine = sel.record_list_for_user(request.user).filter(member=member)
    qs = sel.filter_records(mine, **f).select_related("category").order_by("-served_on", "-pk")
    year = timezone.localdate().year
    page, qbase = _page(request, qs)
    return render(
        request,
        "records/my_records.html",
        {
            "member": member,
            "registration": current_registration(member),
            "form": form,
            "page": page,
            "records": page.object_list,
            "querystring_base": qbase,
            "year": year,
            "totals_year": sel.record_totals(
                sel.filter_records(mine.filter(month__gte=year * 100 + 1), min_evidence=f["min_evidence"])
            ),
            "totals_all": sel.record_totals(sel.filter_records(mine, min_evidence=f["min_evidence"])),
            "min_evidence": f["min_evidence"],
            "weights": _weight_rows(),
        },
    )


def _weight_rows():
    weights = sel.evidence_weights()
    return [(level, label, weights[level]) for level, label in reversed(EvidenceLevel.choices)]


@require_http_methods(["GET", "POST"])
@require_perm(Perm.RECORD_SELF)
def record_create(request):
    member = _me(request)
    registration = current_registration(member)
    form = RecordForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                record = svc.record_create(
                    member=member,
                    served_on=d["served_on"],
                    hours=d["hours"],
                    category=d["category"],
                    description=d["description"],
                    people_helped=d["people_helped"],
                    photo=d.get("photo"),
                    actor=request.user,
                    request=request,
                )
            except RecordError as exc:
                attach_error(form, exc)
                status = exc.status if exc.status != 404 else 400
            else:
                messages.success(
                    request,
                    gettext("已提交服务记录 %(ref)s，等待社区审核。")
                    % {"ref": sel.ref(sel.PREFIX_RECORD, record.pk)},
                )
                return redirect("records:detail", pk=record.pk)
        else:
            status = 400
    return render(
        request,
        "records/record_form.html",
        {"form": form, "member": member, "registration": registration},
        status=status,
    )


@require_GET
@_any_perm(Perm.RECORD_SELF, Perm.RECORD_VERIFY, Perm.MANUAL_VIEW)
def record_detail(request, pk):
    record = sel.record_get_for_user(user=request.user, pk=pk)
    return render(request, "records/record_detail.html", _detail_context(request, record))


def _detail_context(request, record, **extra) -> dict:
    user = request.user
    is_owner = record.member.user_id == user.pk
    can_verify = record_policy.can(user, "verify", record) and record.status == RecordStatus.PENDING
    return {
        "record": record,
        "number": sel.ref(sel.PREFIX_RECORD, record.pk),
        "is_owner": is_owner,
        "can_verify": can_verify,
        "reason_form": ReasonForm(),
        "can_ask_resident": is_owner
        and record.status != RecordStatus.REJECTED
        and record.evidence < EvidenceLevel.RESIDENT,
        **extra,
    }


@require_GET
@_any_perm(Perm.RECORD_SELF, Perm.RECORD_VERIFY, Perm.MANUAL_VIEW)
def record_photo(request, pk):
    """The photo of a record, to those who may see the record (never a public media URL)."""
    record = sel.record_get_for_user(user=request.user, pk=pk)
    if not record.photo:
        raise Http404
    try:
        handle = record.photo.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="{sel.ref(sel.PREFIX_RECORD, record.pk)}.jpg"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@require_perm(Perm.RECORD_SELF)
def resident_code(request, pk):
    """请服务对象确认: a fresh link and 6-digit code, shown once on the member's phone."""
    record = sel.record_get_for_user(user=request.user, pk=pk)
    try:
        issued = svc.resident_code_issue(record=record, actor=request.user, request=request)
    except RecordError as exc:
        return render(
            request,
            "records/record_detail.html",
            _detail_context(request, record, error=error_message(exc)),
            status=exc.status,
        )
    url = site_url(reverse("records:confirm", args=[issued.token]))
    return render(
        request,
        "records/resident_code.html",
        {
            "record": record,
            "number": sel.ref(sel.PREFIX_RECORD, record.pk),
            "code": issued.code,
            "code_spaced": f"{issued.code[:3]} {issued.code[3:]}",
            "url": url,
            "qr": qr_svg(url),
            "expires_at": issued.expires_at,
            "max_attempts": svc.RESIDENT_CODE_MAX_ATTEMPTS,
        },
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """The resident's page (their own phone, no account): enter the code shown on the member's phone."""
    try:
        rc = svc.resident_code_for_token(token)
    except RecordError as exc:
        return _public(
            render(request, "records/confirm.html", {"error": error_message(exc)}, status=exc.status)
        )
    form = ConfirmForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            svc.resident_confirm(
                token=token,
                code=form.cleaned_data["code"],
                rating=form.cleaned_data["rating"],
                request=request,
            )
        except RecordError as exc:
            if exc.code in ("wrong_code",):
                attach_error(form, exc)
                status = exc.status
            else:
                return _public(
                    render(request, "records/confirm.html", {"error": error_message(exc)}, status=exc.status)
                )
        else:
            return _public(
                render(
                    request,
                    "records/confirm.html",
                    {"done": True, "record": rc.record, "member_name": rc.member.name},
                )
            )
    elif request.method == "POST":
        status = 400
    # The description is the member's free text: phone or ID numbers typed into it are masked here.
    return _public(
        render(
            request,
            "records/confirm.html",
            {
                "form": form,
                "record": rc.record,
                "description": mask_text(rc.record.description),
                "member_name": rc.member.name,
            },
            status=status,
        )
    )


# --- the community admin: verification --------------------------------------------------------------------


@require_GET
@require_perm(Perm.RECORD_VERIFY)
def queue(request):
    rows = sel.verify_queue(request.user)
    total = rows.count()
    return render(
        request,
        "records/queue.html",
        {
            "records": list(rows[:QUEUE_SIZE]),
            "total": total,
            "reason_form": ReasonForm(),
            "limit": QUEUE_SIZE,
        },
    )


def _back(request, default: str) -> str:
    nxt = request.POST.get("next", "")
    return nxt if nxt.startswith("/records/") and "//" not in nxt else default


@require_POST
@require_perm(Perm.RECORD_VERIFY)
def verify(request, pk):
    record = sel.record_get_for_user(user=request.user, pk=pk)
    try:
        svc.record_verify(record=record, actor=request.user, request=request)
    except RecordError as exc:
        if exc.status == 404:
            raise Http404 from None
        messages.error(request, error_message(exc))
    else:
        messages.success(
            request,
            gettext("已核实 %(ref)s（%(name)s，%(hours)s 小时）。")
            % {
                "ref": sel.ref(sel.PREFIX_RECORD, record.pk),
                "name": record.member.name,
                "hours": record.hours,
            },
        )
    return redirect(_back(request, reverse("records:queue")))


@require_POST
@require_perm(Perm.RECORD_VERIFY)
def reject(request, pk):
    record = sel.record_get_for_user(user=request.user, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return redirect(_back(request, reverse("records:queue")))
    try:
        svc.record_reject(
            record=record, reason=form.cleaned_data["reason"], actor=request.user, request=request
        )
    except RecordError as exc:
        if exc.status == 404:
            raise Http404 from None
        messages.error(request, error_message(exc))
    else:
        messages.success(
            request,
            gettext("已退回 %(ref)s，已通知%(name)s。")
            % {"ref": sel.ref(sel.PREFIX_RECORD, record.pk), "name": record.member.name},
        )
    return redirect(_back(request, reverse("records:queue")))


@require_POST
@require_perm(Perm.RECORD_VERIFY)
def verify_batch(request):
    ids = request.POST.getlist("ids")
    try:
        n = svc.records_verify_batch(ids=ids, actor=request.user, request=request)
    except RecordError as exc:
        messages.error(request, error_message(exc))
    else:
        if n:
            messages.success(
                request,
                ngettext("已批量核实 %(n)s 条服务记录。", "已批量核实 %(n)s 条服务记录。", n) % {"n": n},
            )
        else:
            messages.info(request, gettext("没有可核实的记录：请勾选待审核的记录。"))
    return redirect("records:queue")


# --- staff: lists and manuals --------------------------------------------------------------------------------


@require_GET
@_staff_reader
def record_list(request):
    form = RecordFilterForm(request.GET or None)
    f = form.values()
    scope = sel.record_list_for_user(request.user)
    qs = sel.filter_records(scope, **f)
    page, qbase = _page(
        request,
        qs.select_related("member", "member__work_unit", "category", "community").order_by(
            "-served_on", "-pk"
        ),
    )
    return render(
        request,
        "records/list.html",
        {
            "form": form,
            "page": page,
            "records": page.object_list,
            "querystring_base": qbase,
            "totals": sel.record_totals(qs),
            "weights": _weight_rows(),
            "min_evidence": f["min_evidence"],
        },
    )


@require_GET
@_staff_reader
def manuals(request):
    """查阅工作手册: the members whose manual the user may read, searchable by name."""
    q = request.GET.get("q", "").strip()[:40]
    qs = sel.manual_members_for_user(request.user).select_related("work_unit", "community")
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(name_initials__startswith=q.lower()))
    page, qbase = _page(request, qs.order_by("name_pinyin", "pk"))
    return render(
        request,
        "records/manuals.html",
        {"page": page, "members": page.object_list, "q": q, "querystring_base": qbase},
    )


@require_GET
@require_perm(Perm.RECORD_SELF)
def my_manual(request):
    return redirect("records:manual", member_id=_me(request).pk)


@require_GET
@require_perm(Perm.MANUAL_VIEW)
def manual(request, member_id):
    """The manual as a page: the newest records and activity sign-ups, continued by "显示更多" (htmx, or
    ``?all=1`` without JavaScript: everything at once); the year table always covers everything."""
    member = sel.manual_member_get_for_user(user=request.user, pk=member_id, only=sel.MANUAL_PAGE_FIELDS)
    min_evidence = sel.clean_min_evidence(request.GET.get("min_evidence"))
    show_all = request.GET.get("all") == "1"
    book = build_manual(
        member=member,
        viewer=request.user,
        min_evidence=min_evidence,
        records_limit=None if show_all else mn.PAGE_RECORDS,
        activities_limit=None if show_all else mn.PAGE_ACTIVITIES,
    )
    manual_read_audit(member=member, viewer=request.user, request=request, fmt="html")
    return render(
        request,
        "records/manual.html",
        {
            "book": book,
            "member": member,
            "is_owner": member.user_id == request.user.pk,
            "show_all": show_all,
            "can_certify": user_has_perm(request.user, Perm.CERTIFICATE_ISSUE),
            "evidence_options": [
                (value, label, str(value) == str(min_evidence or ""))
                for value, label in RecordFilterForm.base_fields["min_evidence"].choices
            ],
        },
    )


@require_GET
@require_perm(Perm.MANUAL_VIEW)
def manual_more(request, member_id, section):
    """The next rows of the manual page's records or activities ("显示更多", htmx): ``<tr>`` rows and, when
    more remain, the next "显示更多" row. Audited as a reading, like the page."""
    if section not in ("records", "activities"):
        raise Http404
    member = sel.manual_member_get_for_user(user=request.user, pk=member_id, only=sel.MANUAL_PAGE_FIELDS)
    min_evidence = sel.clean_min_evidence(request.GET.get("min_evidence"))
    try:
        part = mn.more_page(
            member=member, section=section, after=request.GET.get("after", ""), min_evidence=min_evidence
        )
    except mn.BadCursor:
        return HttpResponseBadRequest(
            gettext("“显示更多”的位置参数无效，请刷新页面后重试。"), content_type="text/plain; charset=utf-8"
        )
    manual_read_audit(member=member, viewer=request.user, request=request, fmt="html", section=section)
    return render(
        request, "records/_manual_more.html", {"member": member, "part": part, "min_evidence": min_evidence}
    )


@require_GET
@require_perm(Perm.MANUAL_VIEW)
def manual_pdf(request, member_id):
    """The printable booklet. The cover shows the member's active card (number + QR); without one it says
    未领卡 — a GET never issues a card."""
    member = sel.manual_member_get_for_user(user=request.user, pk=member_id)
    min_evidence = sel.clean_min_evidence(request.GET.get("min_evidence"))
    # The booklet is printed in Chinese, whatever language the reader uses the site in.
    with translation.override("zh-hans"):
        book = build_manual(member=member, viewer=request.user, min_evidence=min_evidence)
        try:
            pdf = render_pdf(
                "pdf/manual.html",
                {
                    "book": book,
                    "member": member,
                    "printed_at": timezone.localtime(),
                    "card_qr": qr_png_uri(card_token(book.card), fast=False) if book.card else "",
                    "card_number": " ".join(book.card.number[i : i + 3] for i in range(0, 9, 3))
                    if book.card
                    else "",
                    "registration": next((r for r in book.registrations if r.state == "已报到"), None),
                    "min_evidence_label": dict(EvidenceLevel.choices).get(min_evidence, "")
                    if min_evidence
                    else "",
                },
            )
        except PdfFontMissing as exc:
            return _font_missing(request, exc)
    manual_read_audit(member=member, viewer=request.user, request=request, fmt="pdf")
    return pdf_response(pdf, f"工作手册-{member.name}-{timezone.localdate():%Y%m%d}.pdf")


# --- certificates ------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_perm(Perm.CERTIFICATE_ISSUE)
def certificates(request, member_id):
    """Issue a 服务证明 for a period, and the member's earlier certificates."""
    member = sel.manual_member_get_for_user(user=request.user, pk=member_id)
    form = CertificateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                cert = svc.certificate_issue(
                    member=member,
                    period_start=form.cleaned_data["period_start"],
                    period_end=form.cleaned_data["period_end"],
                    actor=request.user,
                    request=request,
                )
            except RecordError as exc:
                if exc.status == 404:
                    raise Http404 from None
                attach_error(form, exc)
                status = exc.status
            else:
                messages.success(
                    request,
                    gettext("已出具服务证明 %(number)s（%(hours)s 小时）。")
                    % {"number": cert.number, "hours": cert.hours},
                )
                return redirect(reverse("records:certificates", args=[member.pk]) + f"#cert-{cert.pk}")
        else:
            status = 400
    rows = list(sel.certificate_list_for_user(request.user).filter(member=member).select_related("issued_by"))
    return render(
        request,
        "records/certificates.html",
        {
            "member": member,
            "form": form,
            "certificates": rows,
            "reason_form": ReasonForm(),
            "can_revoke": certificate_policy.can(request.user, "revoke"),
            "is_owner": member.user_id == request.user.pk,
        },
        status=status,
    )


@require_GET
@require_perm(Perm.CERTIFICATE_ISSUE)
def certificate_pdf(request, pk):
    cert = sel.certificate_get_for_user(user=request.user, pk=pk)
    url = site_url(reverse("records:certificate_check", args=[svc.certificate_token(cert)]))
    try:
        pdf = render_pdf(
            "pdf/certificate.html", {"cert": cert, "qr": qr_png_uri(url, fast=False), "url": url}
        )
    except PdfFontMissing as exc:
        return _font_missing(request, exc)
    return pdf_response(pdf, f"服务证明-{cert.member_name}-{cert.number}.pdf")


@require_POST
@require_perm(Perm.CERTIFICATE_ISSUE)
def certificate_revoke(request, pk):
    cert = sel.certificate_get_for_user(user=request.user, pk=pk)
    if not certificate_policy.can(request.user, "revoke"):
        raise PermissionDenied
    form = ReasonForm(request.POST)
    back = reverse("records:certificates", args=[cert.member_id])
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return redirect(back)
    try:
        svc.certificate_revoke(
            certificate=cert, reason=form.cleaned_data["reason"], actor=request.user, request=request
        )
    except RecordError as exc:
        if exc.status == 404:
            raise Http404 from None
        messages.error(request, error_message(exc))
    else:
        messages.success(request, gettext("已撤销服务证明 %(number)s。") % {"number": cert.number})
    return redirect(back)


@login_not_required
@require_GET
def certificate_check(request, token):
    """Public: is this certificate genuine? Name, unit, period, hours, issue date and status — no PI."""
    try:
        cert = svc.certificate_from_token(token)
    except RecordError as exc:
        return _public(
            render(request, "records/certificate_check.html", {"error": error_message(exc)}, status=404)
        )
    return _public(render(request, "records/certificate_check.html", {"cert": cert}))
