"""The work manual (工作手册): one member's registration history, posts, teams, pairings, activities and service
records, with totals per year — as a web page and as a printable PDF booklet.

Every line carries its record number (``SR-000123`` for a service record, ``REG-…`` registration, ``CLM-…``
post claim, ``TM-…`` team membership, ``PR-…`` pairing, ``ACT-…`` activity sign-up), so the paper and the system
can be checked against each other: the number is the row's id.

``build_manual`` runs a fixed number of queries (one per section), however many records the member has:
the PDF of a member with 500 records is one query for the records, and rows are built from ``values_list``.
The web page shows the records and activity sign-ups a part at a time (``records_limit``/``activities_limit``,
newest first, continued from a keyset cursor by ``more_page``); its totals per year then come from grouped
queries, so the year table still covers everything (from the rows themselves when all were read, as for the
PDF, which is always whole).

Households are private (``posts.selectors.household_list_for_user``): their names appear only to the member
paired with them and to the household's community admin; any other reader sees "结对帮扶 1 户".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractYear
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.accounts.services import audit
from jinshequ.activities.models import EvidenceLevel, RecordStatus, ServiceRecord, Signup, SignupStatus
from jinshequ.activities.records_selectors import (
    PREFIX_CLAIM,
    PREFIX_PAIRING,
    PREFIX_RECORD,
    PREFIX_REGISTRATION,
    PREFIX_SIGNUP,
    PREFIX_TEAM,
    Totals,
    evidence_weights,
    ref,
)
from jinshequ.members.models import ContactCard, Member, Registration, RegistrationMethod, RegistrationStatus
from jinshequ.posts.models import ClaimStatus, Pairing, PostClaim, TeamMembership
from jinshequ.posts.selectors import household_list_for_user

# The web page shows this many service records and activity sign-ups at first, and as many again per "显示更多".
PAGE_RECORDS = 50
PAGE_ACTIVITIES = 50

# Four characters each, so the printed record lines keep their columns.
EVIDENCE_SHORT = {1: _("本人填报"), 2: _("社区确认"), 3: _("现场扫码"), 4: _("对象确认"), 5: _("督查核实")}


@dataclass
class Line:
    """One line of a section: the record number, a date, what it is, and its state."""

    number: str
    when: str
    title: str
    detail: str = ""
    state: str = ""


@dataclass
class RecordLine:
    number: str
    pk: int
    served_on: dt.date
    category: str
    hours: Decimal
    status: str
    status_label: str
    evidence: int
    evidence_label: str
    evidence_short: str
    description: str
    people_helped: int
    community: str
    has_photo: bool
    reject_reason: str


@dataclass
class YearTotals:
    year: int
    totals: Totals
    records: int = 0
    activities_attended: int = 0


@dataclass
class Manual:
    member: Member
    card: ContactCard | None
    registrations: list[Line]
    claims: list[Line]
    teams: list[Line]
    pairings: list[Line]
    pairings_hidden: int  # pairings whose household name the reader may not see
    activities: list[Line]
    records: list[RecordLine]
    years: list[YearTotals]
    totals: Totals
    weights: dict[int, Decimal]
    min_evidence: int | None
    records_total: int = 0  # the member's records (after the evidence filter), shown or not
    activities_total: int = 0
    records_next: str = ""  # cursor of the records after the last one shown; "" when all are shown
    activities_next: str = ""
    generated_at: dt.datetime = field(default_factory=timezone.now)

    @property
    def year_counts(self) -> dict[int, int]:
        return {y.year: y.records for y in self.years}

    @property
    def record_rows(self) -> list[tuple[int | None, RecordLine]]:
        """The records for the page's table, each with its year's count where a year heading goes before it."""
        return with_year_headings(self.records, self.year_counts)

    @property
    def records_left(self) -> int:
        return self.records_total - len(self.records)

    @property
    def activities_left(self) -> int:
        return self.activities_total - len(self.activities)

    @property
    def records_by_year(self) -> list[tuple[int, list[RecordLine]]]:
        out: dict[int, list[RecordLine]] = {}
        for r in self.records:
            out.setdefault(r.served_on.year, []).append(r)
        return sorted(out.items(), reverse=True)

    @property
    def line_count(self) -> int:
        return (
            len(self.registrations)
            + len(self.claims)
            + len(self.teams)
            + len(self.pairings)
            + len(self.activities)
            + len(self.records)
        )

    @cached_property
    def weight_rows(self) -> list[tuple[int, str, Decimal]]:
        labels = _labels(EvidenceLevel.choices)
        return [(level, labels[level], self.weights[level]) for level in sorted(self.weights, reverse=True)]

    @property
    def weight_rows_short(self) -> list[tuple[int, str, Decimal]]:
        return [
            (level, EVIDENCE_SHORT[level], self.weights[level])
            for level in sorted(self.weights, reverse=True)
        ]


def _d(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d")


def _period(start, end) -> str:
    if end:
        return gettext("%(start)s 至 %(end)s") % {"start": _d(start), "end": _d(end)}
    return gettext("%(start)s 起") % {"start": _d(start)}


def _labels(choices) -> dict:
    """Choice labels in the active language (looked up per call, not at import)."""
    return {k: str(v) for k, v in choices}


def with_year_headings(
    records: list[RecordLine], year_counts: dict[int, int], prev_year: int | None = None
) -> list[tuple[int | None, RecordLine]]:
    """``(n, record)`` pairs: ``n`` is the number of records of the record's year where the record starts a
    year (a heading row goes before it), else None; ``prev_year`` is a year already headed on the page (the
    rows of a "显示更多" part continue it)."""
    out: list[tuple[int | None, RecordLine]] = []
    year = prev_year
    for r in records:
        if r.served_on.year != year:
            year = r.served_on.year
            out.append((year_counts.get(year, 0), r))
        else:
            out.append((None, r))
    return out


# The small sections are read as values (no model instances): a handful of rows each.
def _registrations(member: Member) -> list[Line]:
    rows = (
        Registration.objects.filter(member_id=member.pk)
        .order_by("submitted_at", "pk")
        .values_list(
            "pk",
            "status",
            "method",
            "submitted_at",
            "confirmed_on",
            "ended_on",
            "end_reason",
            "reject_reason",
            "community__name",
            "community__parent__name",
        )
    )
    statuses, methods = _labels(RegistrationStatus.choices), _labels(RegistrationMethod.choices)
    out = []
    for pk, status, method, submitted, confirmed, ended, end_reason, reject_reason, community, street in rows:
        when = _period(confirmed, ended) if confirmed else _d(submitted)
        detail = methods.get(method, method)
        if ended and end_reason:
            detail += gettext("；结束原因：%(reason)s") % {"reason": end_reason}
        if reject_reason:
            detail += gettext("；退回原因：%(reason)s") % {"reason": reject_reason}
        out.append(
            Line(
                ref(PREFIX_REGISTRATION, pk),
                when,
                f"{street or ''} {community}".strip(),
                detail,
                statuses.get(status, status),
            )
        )
    return out


def _claims(member: Member) -> list[Line]:
    rows = (
        PostClaim.objects.filter(member_id=member.pk)
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "status",
            "created_at",
            "decided_at",
            "ended_at",
            "end_reason",
            "post__title",
            "post__category__name",
            "post__community__name",
        )
    )
    statuses = _labels(ClaimStatus.choices)
    out = []
    for pk, status, created, decided, ended, end_reason, title, category, community in rows:
        detail = f"{category} · {community}"
        if end_reason:
            detail += gettext("；%(end_reason)s") % {"end_reason": end_reason}
        out.append(
            Line(
                ref(PREFIX_CLAIM, pk),
                _period(decided or created, ended),
                title,
                detail,
                statuses.get(status, status),
            )
        )
    return out


def _teams(member: Member) -> list[Line]:
    rows = (
        TeamMembership.objects.filter(member_id=member.pk)
        .order_by("joined_at", "pk")
        .values_list("pk", "joined_at", "left_at", "team__name", "team__community__name")
    )
    left_label, in_label = gettext("已退出"), gettext("在队")
    return [
        Line(ref(PREFIX_TEAM, pk), _period(joined, left), team, community, left_label if left else in_label)
        for pk, joined, left, team, community in rows
    ]


def _pairings(member: Member, viewer) -> tuple[list[Line], int]:
    rows = list(
        Pairing.objects.filter(member_id=member.pk)
        .order_by("started_on", "pk")
        .values_list("pk", "household_id", "started_on", "ended_on", "household__head_name")
    )
    visible = set()
    if rows:
        visible = set(
            household_list_for_user(viewer)
            .filter(pk__in={row[1] for row in rows})
            .values_list("pk", flat=True)
        )
    out, hidden = [], 0
    for pk, household_id, started, ended, head_name in rows:
        if household_id in visible:
            title = gettext("结对帮扶：%(name)s户") % {"name": head_name}
        else:
            title = gettext("结对帮扶 1 户")
            hidden += 1
        out.append(
            Line(
                ref(PREFIX_PAIRING, pk),
                _period(started, ended),
                title,
                "",
                gettext("已结束") if ended else gettext("帮扶中"),
            )
        )
    return out, hidden


class BadCursor(ValueError):
    """A "显示更多" cursor that does not parse (edited by hand): the view answers 400."""


def _signup_cursor(starts_at: dt.datetime, pk: int) -> str:
    return f"{starts_at.astimezone(dt.UTC):%Y%m%d%H%M%S%f}.{pk}"


def _parse_signup_cursor(cursor: str) -> Q:
    try:
        stamp, pk = cursor.split(".")
        when = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S%f").replace(tzinfo=dt.UTC)
        pk = int(pk)
    except ValueError:
        raise BadCursor(cursor) from None
    return Q(activity__starts_at__lt=when) | Q(activity__starts_at=when, pk__lt=pk)


def _record_cursor(served_on: dt.date, pk: int) -> str:
    return f"{served_on:%Y%m%d}.{pk}"


def _parse_record_cursor(cursor: str) -> Q:
    try:
        day, pk = cursor.split(".")
        served_on = dt.date.fromisoformat(day)
        pk = int(pk)
    except ValueError:
        raise BadCursor(cursor) from None
    return Q(served_on__lt=served_on) | Q(served_on=served_on, pk__lt=pk)


def _signup_rows(member_id):
    return (
        Signup.objects.filter(member_id=member_id)
        .order_by("-activity__starts_at", "-pk")
        .values_list(
            "pk",
            "status",
            "activity__title",
            "activity__starts_at",
            "activity__place",
            "activity__community__name",
            "attendance__checked_in_at",
            "attendance__checked_out_at",
        )
    )


def _record_rows(records):
    return records.order_by("-served_on", "-pk").values_list(
        "pk",
        "served_on",
        "category__name",
        "hours",
        "status",
        "evidence",
        "description",
        "people_helped",
        "community__name",
        "photo",
        "reject_reason",
    )


def _record_groups(records):
    return (
        records.order_by()
        .values("month", "status", "evidence")
        .annotate(h=Sum("hours"), n=Count("pk"))
        .values_list("month", "status", "evidence", "h", "n")
    )


def _read_page(rows, limit: int | None, cursor_of) -> tuple[list, str]:
    """All of ``rows`` (a values queryset) when ``limit`` is None; else the first ``limit`` of them and, when
    there are more, the cursor (``cursor_of``) of the last one read (one row more tells)."""
    if limit is None:
        return list(rows), ""
    rows = list(rows[: limit + 1])
    if len(rows) <= limit:
        return rows, ""
    return rows[:limit], cursor_of(rows[limit - 1])


def _activities(
    member: Member, *, limit: int | None = None, after: str = ""
) -> tuple[list[Line], str, dict[int, int]]:
    """The member's activity sign-ups, newest first: ``limit`` of them after the cursor ``after`` (all when
    ``limit`` is None), the cursor of the next one ("" when there is none), and the activities attended
    per year among the rows read."""
    rows = _signup_rows(member.pk)
    if after:
        rows = rows.filter(_parse_signup_cursor(after))
    rows, more = _read_page(rows, limit, lambda row: _signup_cursor(row[3], row[0]))
    labels = _labels(SignupStatus.choices)
    out, attended = [], {}
    for pk, status, title, starts_at, place, community, checked_in, checked_out in rows:
        start = timezone.localtime(starts_at)
        detail = f"{community} · {place}"
        if checked_in is not None:
            attended[start.year] = attended.get(start.year, 0) + 1
            detail += gettext("；签到 %(time)s") % {"time": f"{timezone.localtime(checked_in):%H:%M}"}
            if checked_out:
                detail += gettext("，签退 %(time)s") % {"time": f"{timezone.localtime(checked_out):%H:%M}"}
        out.append(
            Line(ref(PREFIX_SIGNUP, pk), f"{start:%Y-%m-%d %H:%M}", title, detail, labels.get(status, status))
        )
    return out, more, attended


def _activity_years(member: Member) -> tuple[dict[int, int], int]:
    """Activities attended per year (local time) and the number of sign-ups, in one grouped query."""
    rows = (
        Signup.objects.filter(member=member)
        .annotate(year=ExtractYear("activity__starts_at"))
        .order_by()
        .values("year")
        .annotate(n=Count("pk"), attended=Count("attendance"))
    )
    attended, total = {}, 0
    for row in rows:
        total += row["n"]
        if row["attended"]:
            attended[row["year"]] = row["attended"]
    return attended, total


def _member_records(member: Member, min_evidence: int | None):
    qs = ServiceRecord.objects.filter(member=member)
    if min_evidence:
        qs = qs.filter(evidence__gte=min_evidence)
    return qs


def _records(
    member: Member, min_evidence: int | None, *, limit: int | None = None, after: str = ""
) -> tuple[list[RecordLine], str]:
    """The member's service records, newest first: ``limit`` of them after the cursor ``after`` (all when
    ``limit`` is None), and the cursor of the next one ("" when there is none)."""
    rows = _record_rows(_member_records(member, min_evidence))
    if after:
        rows = rows.filter(_parse_record_cursor(after))
    rows, more = _read_page(rows, limit, lambda row: _record_cursor(row[1], row[0]))
    statuses, levels = _labels(RecordStatus.choices), _labels(EvidenceLevel.choices)
    return [
        RecordLine(
            number=ref(PREFIX_RECORD, pk),
            pk=pk,
            served_on=served_on,
            category=cat,
            hours=hours,
            status=status,
            status_label=statuses.get(status, status),
            evidence=evidence,
            evidence_label=levels.get(evidence, str(evidence)),
            evidence_short=EVIDENCE_SHORT.get(evidence, str(evidence)),
            description=description,
            people_helped=people,
            community=community,
            has_photo=bool(photo),
            reject_reason=reason,
        )
        for pk, served_on, cat, hours, status, evidence, description, people, community, photo, reason in rows
    ], more


def _record_group_rows(member: Member, min_evidence: int | None) -> list[tuple]:
    """``(month, status, evidence, hours, count)`` of the member's records, in one grouped query."""
    return list(_record_groups(_member_records(member, min_evidence)))


def _year_totals(groups, weights: dict[int, Decimal]) -> tuple[dict[int, YearTotals], Totals]:
    """Totals per year and overall from ``(year, status, evidence, hours, count)`` groups."""
    per_year: dict[int, YearTotals] = {}
    totals = Totals()
    for year, status, evidence, hours, n in groups:
        entry = per_year.get(year) or per_year.setdefault(year, YearTotals(year, Totals()))
        entry.records += n
        for t in (entry.totals, totals):
            t.add(status=status, evidence=evidence, hours=hours, count=n, weights=weights)
    return per_year, totals


@dataclass
class MorePage:
    """The next part of the web page's records or activity sign-ups ("显示更多")."""

    section: str  # "records" or "activities"
    lines: list  # RecordLine or Line
    next: str  # cursor of the part after this one; "" when this is the last
    left: int  # records or sign-ups after this part
    year_counts: dict[int, int] | None  # records per year, for the year headings (records only)
    prev_year: int | None  # the year the part continues, whose heading is already on the page

    @property
    def record_rows(self) -> list[tuple[int | None, RecordLine]]:
        return with_year_headings(self.lines, self.year_counts or {}, self.prev_year)


def more_page(*, member: Member, section: str, after: str, min_evidence: int | None = None) -> MorePage:
    """The part of ``section`` after the cursor ``after``; a cursor that does not parse raises ``BadCursor``."""
    if section == "records":
        lines, more = _records(member, min_evidence, limit=PAGE_RECORDS, after=after)
        left = _member_records(member, min_evidence).filter(_parse_record_cursor(more)).count() if more else 0
        year_counts: dict[int, int] = {}
        for month, *_, n in _record_group_rows(member, min_evidence):
            year_counts[month // 100] = year_counts.get(month // 100, 0) + n
        return MorePage(section, lines, more, left, year_counts, int(after[:4]) if after else None)
    lines, more, _ = _activities(member, limit=PAGE_ACTIVITIES, after=after)
    left = Signup.objects.filter(member=member).filter(_parse_signup_cursor(more)).count() if more else 0
    return MorePage(section, lines, more, left, None, None)


def build_manual(
    *,
    member: Member,
    viewer,
    min_evidence: int | None = None,
    records_limit: int | None = None,
    activities_limit: int | None = None,
) -> Manual:
    """Everything in one member's manual, as ``viewer`` may see it (a fixed number of queries).

    ``member`` must come from ``manual_member_get_for_user`` (with ``work_unit`` and ``community`` selected).
    With ``records_limit``/``activities_limit`` only the newest so many records/sign-ups are read (the web
    page; ``records_next``/``activities_next`` continue them); the totals always cover all of them.
    """
    weights = evidence_weights()
    card = ContactCard.objects.filter(member=member, is_active=True).first()
    pairings, hidden = _pairings(member, viewer)
    # Totals come from the rows when all of them were read (the PDF; most members on the web page), else
    # from grouped queries.
    activities, activities_next, attended = _activities(member, limit=activities_limit)
    if activities_next:
        attended, activities_total = _activity_years(member)
    else:
        activities_total = len(activities)
    records, records_next = _records(member, min_evidence, limit=records_limit)
    if records_next:
        groups = (
            (month // 100, status, evidence, hours, n)
            for month, status, evidence, hours, n in _record_group_rows(member, min_evidence)
        )
    else:
        groups = ((r.served_on.year, r.status, r.evidence, r.hours, 1) for r in records)
    per_year, totals = _year_totals(groups, weights)
    for year, n in attended.items():
        per_year.setdefault(year, YearTotals(year, Totals())).activities_attended = n
    return Manual(
        member=member,
        card=card,
        registrations=_registrations(member),
        claims=_claims(member),
        teams=_teams(member),
        pairings=pairings,
        pairings_hidden=hidden,
        activities=activities,
        records=records,
        years=sorted(per_year.values(), key=lambda y: -y.year),
        totals=totals,
        weights=weights,
        min_evidence=min_evidence,
        records_total=sum(y.records for y in per_year.values()),
        activities_total=activities_total,
        records_next=records_next,
        activities_next=activities_next,
    )


def manual_read_audit(*, member: Member, viewer, request=None, fmt: str = "html", section: str = "") -> None:
    """Readings by anyone other than the member themself go to the audit log (``manual.viewed``); a
    "显示更多" page names its ``section``."""
    if member.user_id is not None and member.user_id == getattr(viewer, "pk", None):
        return
    changes = {"format": fmt, "section": section} if section else {"format": fmt}
    audit(
        event="manual.viewed",
        actor=viewer,
        request=request,
        obj=member,
        object_repr=member.name,
        changes=changes,
    )
