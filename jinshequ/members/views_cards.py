"""Everything printed for report-in: contact cards (联系卡) in batch and singly, reissue of a lost card,
report-in receipts (报到回执) per member and per unit, and the community's report-in poster.

Printing cards issues missing cards and records the print, so those routes are POSTs (no GET changes
state). Receipts and posters only read, so they are GETs. Objects come through the scope selectors:
anything outside the user's scope is a 404, the same as a missing id.
"""

from __future__ import annotations

from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from jinshequ.access import audiences
from jinshequ.accounts.perms import Perm, require_perm, user_has_perm
from jinshequ.accounts.services import audit
from jinshequ.core.pdf import PdfFontMissing, cjk_font_available, pdf_response, render_pdf
from jinshequ.core.qr import qr_svg
from jinshequ.core.widgets import DateInput
from jinshequ.members import cards as card_prints
from jinshequ.members import reporting
from jinshequ.members.models import MemberStatus
from jinshequ.members.roster import roster_members
from jinshequ.members.selectors import member_get_for_user
from jinshequ.regions.models import RegionKind
from jinshequ.regions.selectors import region_get_for_user
from jinshequ.units.models import WorkUnit
from jinshequ.units.selectors import unit_get_for_user, unit_list_for_user

PICKER_PAGE_SIZE = 50
SELECT_LIMIT = 300  # up to this many units: a drop-down; above it (city admins): search


def _require_any_perm(*perms):
    """Function-level access for views open to more than one permission (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not any(user_has_perm(request.user, p) for p in perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_perms = perms
        return wrapped

    return decorator


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")


def _font_missing(request, exc: PdfFontMissing):
    return render(request, "cards/pdf_unavailable.html", {"message": exc.message}, status=503)


def _flag(data, name: str) -> bool:
    return data.get(name) in ("1", "on", "true")


def _part(data) -> int:
    try:
        return max(1, int(data.get("part", "1")))
    except (TypeError, ValueError):
        return 1


def _format_number(number: str) -> str:
    return " ".join(number[i : i + 3] for i in range(0, len(number), 3))


def _unit_picker_context(request, url_name: str) -> dict:
    """Units of the user's scope: a drop-down when there are few, otherwise a searchable list."""
    units = unit_list_for_user(request.user).filter(is_active=True).order_by("path")
    q = request.GET.get("q", "").strip()
    if q:
        units = units.filter(name__contains=q)
    count = units.count()
    if count <= SELECT_LIMIT and not q:
        options = [(u.pk, u.name, u.path.count(".") - 1) for u in units.only("pk", "name", "path")]
        base = min((d for _, _, d in options), default=0)
        return {"unit_options": [(pk, name, "\u3000" * (d - base)) for pk, name, d in options], "q": q}
    page = Paginator(units.order_by("name"), PICKER_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "page": page,
        "units": page.object_list,
        "q": q,
        "picker_url": reverse(url_name),
        "querystring_base": f"{query.urlencode()}&" if query else "",
    }


def _chosen_unit(request) -> WorkUnit | None:
    """``?unit=<id>`` in scope (404 otherwise); a unit admin's own unit by default."""
    value = request.GET.get("unit")
    if not value:
        value = audiences.administered_unit_id(request.user)
    return unit_get_for_user(user=request.user, pk=value) if value else None


# --- contact cards: batch -------------------------------------------------------------------------


@require_GET
@require_perm(Perm.CARD_MANAGE)
def card_unit(request):
    """Choose the unit, sub-units or not, unprinted only or all → the POST that makes the PDF."""
    unit = _chosen_unit(request)
    context = {"unit": unit, **_unit_picker_context(request, "cards:unit")}
    if unit is not None:
        include_sub = _flag(request.GET, "sub")
        only_unprinted = request.GET.get("only", "unprinted") != "all"
        members = card_prints.card_print_members(
            request.user, unit, include_sub=include_sub, only_unprinted=only_unprinted
        )
        everyone = roster_members(request.user, unit, include_sub=include_sub)
        total = members.count()
        context.update(
            {
                "include_sub": include_sub,
                "only_unprinted": only_unprinted,
                "has_children": unit.children.exists(),
                "total": total,
                "counts": card_prints.card_print_counts(everyone),
                "parts": card_prints.parts(total, card_prints.CARDS_PER_PDF),
                "per_pdf": card_prints.CARDS_PER_PDF,
                "pages": -(-min(total, card_prints.CARDS_PER_PDF) // card_prints.CARDS_PER_PAGE),
            }
        )
    return render(request, "cards/unit.html", context)


@require_POST
@require_perm(Perm.CARD_MANAGE)
def card_unit_pdf(request, unit_id):
    """联系卡 PDF for the unit: 8 cards per A4 page; missing cards are issued, the print is recorded."""
    unit = unit_get_for_user(user=request.user, pk=unit_id)
    include_sub = _flag(request.POST, "sub")
    only_unprinted = request.POST.get("only", "unprinted") != "all"
    back = (
        reverse("cards:unit")
        + f"?unit={unit.pk}"
        + ("&sub=1" if include_sub else "")
        + ("" if only_unprinted else "&only=all")
    )
    if not cjk_font_available():
        return _font_missing(request, PdfFontMissing())
    members = card_prints.card_print_members(
        request.user, unit, include_sub=include_sub, only_unprinted=only_unprinted
    )
    part = _part(request.POST)
    size = card_prints.CARDS_PER_PDF
    # Unprinted-only prints always take the first batch: what was printed drops out of the selection.
    start = 0 if only_unprinted else (part - 1) * size
    chosen = list(members.select_related("work_unit", "community", "community__parent")[start : start + size])
    if not chosen:
        messages.info(
            request,
            gettext("没有需要打印的联系卡：所选党员的联系卡都已打印过。")
            if only_unprinted
            else gettext("所选范围内没有在职党员。"),
        )
        return redirect(back)
    prepared = card_prints.cards_prepare(members=chosen, actor=request.user)
    printed = [p for _, p in prepared]
    for p in printed:
        p.number = _format_number(p.number)
    try:
        pdf = render_pdf(
            "pdf/cards.html",
            {
                "sheets": [
                    printed[i : i + card_prints.CARDS_PER_PAGE]
                    for i in range(0, len(printed), card_prints.CARDS_PER_PAGE)
                ],
                "title": unit.name,
                "printed_on": timezone.localdate(),
            },
        )
    except PdfFontMissing as exc:
        return _font_missing(request, exc)
    card_prints.cards_mark_printed(
        cards=[c for c, _ in prepared], actor=request.user, request=request, unit=unit
    )
    suffix = "" if only_unprinted or start == 0 and len(chosen) < size else f"-第{part}部分"
    return pdf_response(pdf, f"联系卡-{unit.name}{suffix}-{_stamp()}.pdf")


# --- contact cards: one member ------------------------------------------------------------------


def _active_member(request, member_id):
    member = member_get_for_user(user=request.user, pk=member_id)
    if member.status != MemberStatus.ACTIVE:
        raise Http404
    return member


@require_POST
@require_perm(Perm.CARD_MANAGE)
def card_member_pdf(request, member_id):
    """One member's card (the first is issued if there is none), on an A4 page to cut out."""
    member = member_get_for_user(user=request.user, pk=member_id)
    if member.status != MemberStatus.ACTIVE:
        messages.error(request, gettext("该党员已不在职，不能打印联系卡。"))
        return redirect("members:detail", pk=member.pk)
    if not cjk_font_available():
        return _font_missing(request, PdfFontMissing())
    member = (
        type(member).objects.select_related("work_unit", "community", "community__parent").get(pk=member.pk)
    )
    [(card, printed)] = card_prints.cards_prepare(members=[member], actor=request.user, fast_qr=False)
    printed.number = _format_number(printed.number)
    try:
        pdf = render_pdf(
            "pdf/cards.html",
            {"sheets": [[printed]], "title": member.name, "printed_on": timezone.localdate()},
        )
    except PdfFontMissing as exc:
        return _font_missing(request, exc)
    card_prints.cards_mark_printed(cards=[card], actor=request.user, request=request, member=member)
    return pdf_response(pdf, f"联系卡-{member.name}-{card.number}.pdf")


@require_POST
@require_perm(Perm.CARD_MANAGE)
def card_reissue(request, member_id):
    """挂失补办: a new card with a new number and token; the old card stops working at once."""
    member = _active_member(request, member_id)
    card = reporting.card_issue(
        member=member, actor=request.user, request=request, reason=gettext("挂失补办")
    )
    messages.success(
        request,
        gettext("已为%(name)s补办新联系卡（卡号 %(format_number)s），原卡已作废。请打印新卡交给本人。")
        % {"name": member.name, "format_number": _format_number(card.number)},
    )
    return redirect(reverse("members:detail", args=[member.pk]) + "#card-panel")


# --- report-in receipts (报到回执) ------------------------------------------------------------------


class ReceiptFilterForm(forms.Form):
    since = forms.DateField(
        label=_("确认日期自"), required=False, widget=DateInput(attrs={"class": "form-control"})
    )
    until = forms.DateField(label=_("至"), required=False, widget=DateInput(attrs={"class": "form-control"}))


def _receipt_context(regs) -> dict:
    items = [
        {
            "reg": r,
            "member": r.member,
            "unit": r.member.work_unit.name,
            "home": card_prints.community_label(r.member.community),
            "community": card_prints.community_label(r.community),
        }
        for r in regs
    ]
    per = card_prints.RECEIPTS_PER_PAGE
    return {
        "sheets": [items[i : i + per] for i in range(0, len(items), per)],
        "printed_on": timezone.localdate(),
    }


@require_GET
@require_perm(Perm.ROSTER_VIEW)
def receipt_member_pdf(request, member_id):
    """One member's 报到回执 (their current, confirmed registration)."""
    member = member_get_for_user(user=request.user, pk=member_id)
    regs = list(card_prints.receipt_registrations(type(member).objects.filter(pk=member.pk)))
    if not regs:
        messages.info(
            request, gettext("%(name)s尚未完成报到（社区确认后才有报到回执）。") % {"name": member.name}
        )
        return redirect("members:detail", pk=member.pk)
    try:
        pdf = render_pdf(
            "pdf/receipts.html", {**_receipt_context(regs), "title": member.name, "single": True}
        )
    except PdfFontMissing as exc:
        return _font_missing(request, exc)
    audit(event="receipt.printed", request=request, obj=member, changes={"count": 1})
    return pdf_response(pdf, f"报到回执-{member.name}-{regs[0].pk}.pdf")


@require_GET
@require_perm(Perm.ROSTER_VIEW)
def receipts(request):
    """Choose the unit and the confirmation dates for a batch of receipts."""
    unit = _chosen_unit(request)
    form = ReceiptFilterForm(request.GET or None)
    context = {"unit": unit, "form": form, **_unit_picker_context(request, "cards:receipts")}
    if unit is not None:
        include_sub = _flag(request.GET, "sub")
        data = form.cleaned_data if form.is_valid() else {}
        members = roster_members(request.user, unit, include_sub=include_sub)
        total = card_prints.receipt_registrations(
            members, since=data.get("since"), until=data.get("until")
        ).count()
        query = {
            "status": "reported",
            **({"sub": "1"} if include_sub else {}),
            **{k: v.isoformat() for k, v in data.items() if v},
        }
        context.update(
            {
                "include_sub": include_sub,
                "has_children": unit.children.exists(),
                "total": total,
                "parts": card_prints.parts(total, card_prints.RECEIPTS_PER_PDF),
                "query": query,
                "per_pdf": card_prints.RECEIPTS_PER_PDF,
                "scope_note": gettext("只包括居住在您辖区内的党员。")
                if audiences.in_audience(request.user, audiences.REGION_OVERSIGHT)
                else "",
            }
        )
    return render(request, "cards/receipts.html", context)


@require_GET
@require_perm(Perm.ROSTER_VIEW)
def receipts_unit_pdf(request, unit_id):
    """报到回执 for every reported member of the unit (``?status=reported``), three to a page."""
    unit = unit_get_for_user(user=request.user, pk=unit_id)
    if request.GET.get("status", "reported") != "reported":
        raise Http404
    form = ReceiptFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    include_sub = _flag(request.GET, "sub")
    members = roster_members(request.user, unit, include_sub=include_sub)
    regs = card_prints.receipt_registrations(members, since=data.get("since"), until=data.get("until"))
    part, size = _part(request.GET), card_prints.RECEIPTS_PER_PDF
    chosen = list(regs[(part - 1) * size : part * size])
    if not chosen:
        messages.info(request, gettext("所选范围内没有已报到的党员，暂无报到回执可打印。"))
        return redirect(reverse("cards:receipts") + f"?unit={unit.pk}" + ("&sub=1" if include_sub else ""))
    try:
        pdf = render_pdf("pdf/receipts.html", {**_receipt_context(chosen), "title": unit.name})
    except PdfFontMissing as exc:
        return _font_missing(request, exc)
    audit(
        event="receipt.printed",
        request=request,
        obj=unit,
        changes={
            "count": len(chosen),
            "include_sub": include_sub,
            "part": part,
            **{k: v.isoformat() for k, v in data.items() if v},
        },
    )
    suffix = f"-第{part}部分" if part > 1 or regs.count() > size else ""
    return pdf_response(pdf, f"报到回执-{unit.name}{suffix}-{_stamp()}.pdf")


# --- the community's report-in poster ------------------------------------------------------------


@require_GET
@_require_any_perm(Perm.REGISTRATION_REVIEW, Perm.REGION_MANAGE)
def poster_pdf(request, community_id):
    """A4 poster: the community's report-in QR (a signed URL) with three steps and the office's public
    address and phone. Community admins print their own community's; region admins any in scope."""
    community = region_get_for_user(user=request.user, pk=community_id)
    if community.kind != RegionKind.COMMUNITY or not community.is_active:
        raise Http404
    if audiences.administered_community_id(request.user) not in (None, community.pk):
        raise Http404
    url = reporting.site_url(reporting.report_qr_url(community))
    try:
        pdf = render_pdf(
            "pdf/poster.html",
            {
                "community": community,
                "street": community.parent.name if community.parent_id else "",
                "qr": qr_svg(url, size_mm=120, error="m"),
                "url": url,
                "printed_on": timezone.localdate(),
            },
        )
    except PdfFontMissing as exc:
        return _font_missing(request, exc)
    return pdf_response(pdf, f"报到二维码海报-{community.name}.pdf")
