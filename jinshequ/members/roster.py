"""The unit roster (花名册): scoped reads of a unit's members with their check-off status, and the
follow-up writes (reminders to the outstanding members).

Reads start from ``member_list_for_user`` (so a district admin looking at a unit sees its members
living in the district, a unit admin their own subtree); writes run in one transaction and audit
inside it.
"""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from jinshequ.accounts.models import Notification
from jinshequ.accounts.notify import notify_member
from jinshequ.accounts.services import audit
from jinshequ.campaigns.models import Campaign
from jinshequ.members.models import (
    OPEN_REGISTRATION_STATUSES,
    Exemption,
    ExemptionReason,
    Member,
    MemberStatus,
    Registration,
    RegistrationStatus,
)
from jinshequ.members.reporting_selectors import ReportStatus, filter_report_status, valid_exemptions
from jinshequ.members.selectors import member_list_for_user
from jinshequ.regions.models import Region
from jinshequ.units.models import WorkUnit

REMINDER_KIND = "roster.reminder"
REMINDER_TITLE = gettext_noop(
    "请尽快到居住地社区报到"
)  # stored Chinese by the demo builder; gettext() when sent
REMINDER_QUIET_HOURS = 24


def roster_members(user, unit: WorkUnit, *, include_sub: bool) -> QuerySet[Member]:
    """Active members of ``unit`` (and its sub-units when ``include_sub``) within the user's scope."""
    qs = member_list_for_user(user).filter(status=MemberStatus.ACTIVE)
    if include_sub:
        # ``work_unit_id IN (units of the subtree)`` rather than a join on ``path LIKE``: SQLite cannot use
        # an index for LIKE, so the join form scans every member (measured: 72 ms against 1.3 ms).
        return qs.filter(work_unit__in=WorkUnit.objects.filter(path__startswith=unit.path).values("pk"))
    return qs.filter(work_unit=unit)


def report_status_case(day: dt.date | None = None) -> Case:
    """One member's check-off status as SQL, in the order of ``reporting_selectors.with_report_status``:
    reported (a confirmed registration anywhere), exempt (a valid exemption), pending, outstanding."""
    confirmed = Registration.objects.filter(member=OuterRef("pk"), status=RegistrationStatus.CONFIRMED)
    pending = Registration.objects.filter(member=OuterRef("pk"), status=RegistrationStatus.PENDING)
    exempt = valid_exemptions(day).filter(member=OuterRef("pk"))
    return Case(
        When(Exists(confirmed), then=Value(ReportStatus.REPORTED)),
        When(Exists(exempt), then=Value(ReportStatus.EXEMPT)),
        When(Exists(pending), then=Value(ReportStatus.PENDING)),
        default=Value(ReportStatus.OUTSTANDING),
        output_field=CharField(),
    )


BADGES = {
    ReportStatus.REPORTED: "text-bg-success",
    ReportStatus.PENDING: "text-bg-warning",
    ReportStatus.EXEMPT: "text-bg-secondary",
    ReportStatus.OUTSTANDING: "text-bg-danger",
}
_STATUS_SQL = (
    "CASE WHEN EXISTS (SELECT 1 FROM {reg} r WHERE r.member_id = {member}.id AND r.status = %s) THEN %s "
    "WHEN EXISTS (SELECT 1 FROM {exemption} e WHERE e.member_id = {member}.id AND e.revoked_at IS NULL "
    "AND e.valid_until >= %s) THEN %s "
    "WHEN EXISTS (SELECT 1 FROM {reg} r WHERE r.member_id = {member}.id AND r.status = %s) THEN %s "
    "ELSE %s END"
)


def report_status_sql(day: dt.date | None = None) -> RawSQL:
    """``report_status_case`` as a ready-made SQL fragment: the same CASE, without the ORM compiling three
    correlated subqueries on every request (~2 ms of a roster page). Only for a top-level query on the
    member table (the fragment names it, unaliased)."""
    qn = connection.ops.quote_name
    member, reg, exemption = (qn(m._meta.db_table) for m in (Member, Registration, Exemption))
    sql = _STATUS_SQL.format(member=member, reg=reg, exemption=exemption)  # noqa: S608 (quoted table names only)
    params = (
        RegistrationStatus.CONFIRMED.value,
        ReportStatus.REPORTED,
        day or timezone.localdate(),
        ReportStatus.EXEMPT,
        RegistrationStatus.PENDING.value,
        ReportStatus.PENDING,
        ReportStatus.OUTSTANDING,
    )
    return RawSQL(sql, params, output_field=CharField())  # noqa: S611 (see above)


ROW_FIELDS = (
    "id",
    "name",
    "name_pinyin",
    "phone_masked",
    "work_unit_id",
    "work_unit__name",
    "community_id",
    "community__name",
    "status",
)


def roster_rows(
    members: QuerySet[Member], *, status: str = "", day: dt.date | None = None
) -> QuerySet[Member]:
    """The roster's rows, each with ``report_status``; call ``attach_report_details`` on the page shown.

    ``status``: one of ``ReportStatus``; ``"all"`` everyone; anything else everyone expected to report
    (exempt members are listed separately).
    """
    qs = members.annotate(report_status=report_status_case(day))
    if status in ReportStatus.LABELS:
        qs = qs.filter(report_status=status)
    elif status != "all":
        qs = qs.exclude(report_status=ReportStatus.EXEMPT)
    return qs.select_related("work_unit", "community").only(*ROW_FIELDS).order_by("name_pinyin", "id")


def roster_page(
    members: QuerySet[Member],
    *,
    status: str = "",
    q: str = "",
    number=1,
    per_page: int = 50,
    day: dt.date | None = None,
    with_unit: bool = True,
):
    """The roster in two cheap queries, whatever the unit's size: the number of members per status
    (grouped), and the rows of the page with their report details (the status filter and the order done
    in SQL).

    Returns ``(counts, page)``: ``counts`` maps each ``ReportStatus`` to its number of members (of the whole
    roster, whatever ``q``), ``page.object_list`` the rows shown, with ``report_status`` and the details.
    ``status``: a ``ReportStatus`` tab, or '' for everyone expected to report (exempt members are listed
    separately). ``q``: a search term (``member_search``); it costs a COUNT query for the paginator.
    ``with_unit``: also load each member's unit (a roster with sub-units shows it).
    """
    from jinshequ.members.selectors import member_search

    annotated = members.annotate(report_status=report_status_sql(day))
    counts = dict(
        annotated.values("report_status").annotate(n=Count("id")).order_by().values_list("report_status", "n")
    )
    if status in ReportStatus.LABELS:
        rows, total = annotated.filter(report_status=status), counts.get(status, 0)
    else:
        rows = annotated.exclude(report_status=ReportStatus.EXEMPT)
        total = sum(n for s, n in counts.items() if s != ReportStatus.EXEMPT)
    if q:
        rows, total = member_search(rows, q), None
    if with_unit:
        rows = rows.select_related("work_unit", "community").only(*ROW_FIELDS)
    else:  # one unit: its name is on the page already
        rows = rows.select_related("community").only(*(f for f in ROW_FIELDS if f != "work_unit__name"))
    rows = rows.annotate(**report_details_sql(day)).order_by("name_pinyin", "id")
    page = page_of(rows, number, count=total, per_page=per_page)
    page.object_list = _label(list(page.object_list))
    return counts, page


def attach_report_details(rows, day: dt.date | None = None) -> list[Member]:
    """Set where and when each member reported (or asked to), and their valid exemption, on a page of
    rows: at most two queries whatever the page size (cheaper than nine correlated subqueries per row)."""
    rows = list(rows)
    registered = [m.pk for m in rows if m.report_status in (ReportStatus.REPORTED, ReportStatus.PENDING)]
    exempt = [m.pk for m in rows if m.report_status == ReportStatus.EXEMPT]
    regs = {}
    if registered:  # (a page of outstanding or exempt members needs no registration)
        for r in Registration.objects.filter(
            member_id__in=registered, status__in=OPEN_REGISTRATION_STATUSES
        ).values("member_id", "status", "community__name", "confirmed_on"):
            regs[(r["member_id"], r["status"])] = r
    exemptions = {}
    if exempt:
        for e in (
            valid_exemptions(day)
            .filter(member_id__in=exempt)
            .order_by("valid_until", "id")
            .values("id", "member_id", "reason", "valid_until")
        ):
            exemptions[e["member_id"]] = e  # the one valid longest wins
    for m in rows:
        confirmed = regs.get((m.pk, RegistrationStatus.CONFIRMED), {})
        pending = regs.get((m.pk, RegistrationStatus.PENDING), {})
        exemption = exemptions.get(m.pk, {})
        m.reg_community_name = confirmed.get("community__name", "")
        m.reg_confirmed_on = confirmed.get("confirmed_on")
        m.pending_community_name = pending.get("community__name", "")
        m.exemption_id = exemption.get("id")
        m.exempt_until = exemption.get("valid_until")
        m.exempt_reason = exemption.get("reason")
    return _label(rows)


def _label(rows: list[Member]) -> list[Member]:
    """Badge, label and a one-line note per row: where and when (reported), where to (pending), why and
    until when (exempt)."""
    reasons = dict(ExemptionReason.choices)
    labels = {k: str(v) for k, v in ReportStatus.LABELS.items()}
    until = gettext("至")
    for m in rows:
        m.report_label = labels.get(m.report_status, "")
        m.badge = BADGES.get(m.report_status, "")
        m.exempt_reason_label = str(reasons.get(m.exempt_reason, "")) if m.exempt_reason else ""
        if m.report_status == ReportStatus.REPORTED:
            day = m.reg_confirmed_on
            m.status_note = (
                gettext("%(reg_community_name)s，%(day)s")
                % {"reg_community_name": m.reg_community_name, "day": format(day, "%Y-%m-%d")}
                if day
                else (m.reg_community_name or "")
            )
        elif m.report_status == ReportStatus.PENDING:
            m.status_note = m.pending_community_name or ""
        elif m.report_status == ReportStatus.EXEMPT and m.exempt_until:
            m.status_note = gettext("%(exempt_reason_label)s，%(until)s %(exempt_until)s") % {
                "exempt_reason_label": m.exempt_reason_label,
                "until": until,
                "exempt_until": format(m.exempt_until, "%Y-%m-%d"),
            }
        else:
            m.status_note = ""
    return rows


_DETAIL_SQL = {
    # name: (SQL with {member}, {reg}, {region}, {exemption} table names, parameters, output field)
    "reg_community_name": (
        "SELECT c.name FROM {reg} r JOIN {region} c ON c.id = r.community_id "
        "WHERE r.member_id = {member}.id AND r.status = %s",
        ("confirmed",),
        CharField,
    ),
    "reg_confirmed_on": (
        "SELECT r.confirmed_on FROM {reg} r WHERE r.member_id = {member}.id AND r.status = %s",
        ("confirmed",),
        DateField,
    ),
    "pending_community_name": (
        "SELECT c.name FROM {reg} r JOIN {region} c ON c.id = r.community_id "
        "WHERE r.member_id = {member}.id AND r.status = %s",
        ("pending",),
        CharField,
    ),
    "exemption_id": (
        "SELECT e.id FROM {exemption} e WHERE e.member_id = {member}.id AND e.revoked_at IS NULL "
        "AND e.valid_until >= %s ORDER BY e.valid_until DESC, e.id DESC",
        (None,),
        IntegerField,
    ),
    "exempt_until": (
        "SELECT e.valid_until FROM {exemption} e WHERE e.member_id = {member}.id "
        "AND e.revoked_at IS NULL AND e.valid_until >= %s ORDER BY e.valid_until DESC, e.id DESC",
        (None,),
        DateField,
    ),
    "exempt_reason": (
        "SELECT e.reason FROM {exemption} e WHERE e.member_id = {member}.id AND e.revoked_at IS NULL "
        "AND e.valid_until >= %s ORDER BY e.valid_until DESC, e.id DESC",
        (None,),
        CharField,
    ),
}


def report_details_sql(day: dt.date | None = None) -> dict[str, RawSQL]:
    """The details ``attach_report_details`` fetches, as ready-made subqueries to annotate a top-level
    member query with (no extra query, no ORM compile cost)."""
    qn = connection.ops.quote_name
    tables = {
        "member": qn(Member._meta.db_table),
        "reg": qn(Registration._meta.db_table),
        "region": qn(Region._meta.db_table),
        "exemption": qn(Exemption._meta.db_table),
    }
    day = day or timezone.localdate()
    out = {}
    for name, (sql, params, field) in _DETAIL_SQL.items():
        query = f"({sql.format(**tables)} LIMIT 1)"  # noqa: S608 (quoted table names only)
        out[name] = RawSQL(query, tuple(day if p is None else p for p in params), output_field=field())  # noqa: S611
    return out


def page_of(rows, number, *, count: int | None = None, per_page: int = 50):
    """A page of ``rows``. ``count``, when the caller already knows the total, saves the COUNT query."""
    paginator = Paginator(rows, per_page)
    if count is not None:
        paginator.count = count  # a cached_property: set the known value
    return paginator.get_page(number)


def reminder_body(campaign: Campaign | None) -> str:
    if campaign and campaign.report_deadline:
        return gettext(
            "您还没有到居住地社区报到。请于 %(report_deadline)s 前登录系统选择居住社区提交报到，或持联系卡到社区现场登记。"
        ) % {"report_deadline": format(campaign.report_deadline, gettext("%Y年%m月%d日"))}
    return gettext("您还没有到居住地社区报到。请尽快登录系统选择居住社区提交报到，或持联系卡到社区现场登记。")


@transaction.atomic
def reminders_send(
    *, members: QuerySet[Member], campaign: Campaign | None, actor, request=None, unit: WorkUnit | None = None
) -> tuple[int, int]:
    """Send the reminder to every outstanding member of ``members``; returns ``(sent, skipped)``.

    A member reminded within the last 24 hours is skipped, so pressing the button twice does not
    flood anyone. Each reminder is an inbox row delivered through the configured senders
    (``notify_member``); one audit row ``roster.reminded`` records the counts.
    """
    outstanding = list(
        filter_report_status(members, ReportStatus.OUTSTANDING).only("id", "user_id", "phone_enc")
    )
    since = timezone.now() - dt.timedelta(hours=REMINDER_QUIET_HOURS)
    recent = set(
        Notification.objects.filter(
            kind=REMINDER_KIND, created_at__gte=since, member__in=members.values("pk")
        ).values_list("member_id", flat=True)
    )
    body = reminder_body(campaign)
    link = reverse("members:me")
    sent = 0
    for member in outstanding:
        if member.pk in recent:
            continue
        notify_member(member=member, kind=REMINDER_KIND, title=gettext(REMINDER_TITLE), body=body, link=link)
        sent += 1
    skipped = len(outstanding) - sent
    audit(
        event="roster.reminded",
        actor=actor,
        request=request,
        obj=unit,
        object_type="" if unit is not None else "units.workunit",
        changes={"count": sent, "skipped": skipped},
    )
    return sent, skipped
