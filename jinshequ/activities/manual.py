"""The work manual (工作手册): one member's registration history, posts, teams, pairings, activities and service
records, with totals per year — as a web page and as a printable PDF booklet.

Every line carries its record number (``SR-000123`` for a service record, ``REG-…`` registration, ``CLM-…``
post claim, ``TM-…`` team membership, ``PR-…`` pairing, ``ACT-…`` activity sign-up), so the paper and the system
can be checked against each other: the number is the row's id.

``build_manual`` runs a fixed number of queries (one per section), however many records the member has:
the PDF of a member with 500 records is one query for the records, and rows are built from ``values_list``.

Households are private (``posts.selectors.household_list_for_user``): their names appear only to the member
paired with them and to the household's community admin; any other reader sees "结对帮扶 1 户".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from jinshequ.accounts.services import audit
from jinshequ.activities.models import EvidenceLevel, RecordStatus, ServiceRecord, Signup
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
from jinshequ.members.models import ContactCard, Member, Registration
from jinshequ.posts.models import Pairing, PostClaim, TeamMembership
from jinshequ.posts.selectors import household_list_for_user

EVIDENCE_LABELS = {k: str(v) for k, v in EvidenceLevel.choices}
STATUS_LABELS = {k: str(v) for k, v in RecordStatus.choices}
# Four characters each, so the printed record lines keep their columns.
EVIDENCE_SHORT = {1: "本人填报", 2: "社区确认", 3: "现场扫码", 4: "对象确认", 5: "督查核实"}


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
    generated_at: dt.datetime = field(default_factory=timezone.now)

    @property
    def records_by_year(self) -> list[tuple[int, list[RecordLine]]]:
        out: dict[int, list[RecordLine]] = {}
        for r in self.records:
            out.setdefault(r.served_on.year, []).append(r)
        return sorted(out.items(), reverse=True)

    @property
    def line_count(self) -> int:
        return (len(self.registrations) + len(self.claims) + len(self.teams) + len(self.pairings)
                + len(self.activities) + len(self.records))

    @property
    def weight_rows(self) -> list[tuple[int, str, Decimal]]:
        return [(level, EVIDENCE_LABELS[level], self.weights[level]) for level in sorted(self.weights, reverse=True)]

    @property
    def weight_rows_short(self) -> list[tuple[int, str, Decimal]]:
        return [(level, EVIDENCE_SHORT[level], self.weights[level]) for level in sorted(self.weights, reverse=True)]


def _d(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d")


def _period(start, end) -> str:
    return f"{_d(start)} 至 {_d(end)}" if end else f"{_d(start)} 起"


def _registrations(member: Member) -> list[Line]:
    rows = (Registration.objects.filter(member=member).select_related("community", "community__parent")
            .order_by("submitted_at", "pk"))
    out = []
    for r in rows:
        street = r.community.parent.name if r.community.parent_id else ""
        when = _period(r.confirmed_on, r.ended_on) if r.confirmed_on else _d(r.submitted_at)
        detail = r.get_method_display()
        if r.ended_on and r.end_reason:
            detail += f"；结束原因：{r.end_reason}"
        if r.reject_reason:
            detail += f"；退回原因：{r.reject_reason}"
        out.append(Line(ref(PREFIX_REGISTRATION, r.pk), when, f"{street} {r.community.name}".strip(), detail,
                        r.get_status_display()))
    return out


def _claims(member: Member) -> list[Line]:
    rows = (PostClaim.objects.filter(member=member).select_related("post", "post__category", "post__community")
            .order_by("created_at", "pk"))
    out = []
    for c in rows:
        start = c.decided_at or c.created_at
        detail = f"{c.post.category.name} · {c.post.community.name}"
        if c.end_reason:
            detail += f"；{c.end_reason}"
        out.append(Line(ref(PREFIX_CLAIM, c.pk), _period(start, c.ended_at), c.post.title, detail,
                        c.get_status_display()))
    return out


def _teams(member: Member) -> list[Line]:
    rows = (TeamMembership.objects.filter(member=member).select_related("team", "team__community")
            .order_by("joined_at", "pk"))
    return [Line(ref(PREFIX_TEAM, m.pk), _period(m.joined_at, m.left_at), m.team.name, m.team.community.name,
                 "已退出" if m.left_at else "在队") for m in rows]


def _pairings(member: Member, viewer) -> tuple[list[Line], int]:
    rows = list(Pairing.objects.filter(member=member).select_related("household").order_by("started_on", "pk"))
    visible = set()
    if rows:
        visible = set(household_list_for_user(viewer).filter(pk__in={p.household_id for p in rows})
                      .values_list("pk", flat=True))
    out, hidden = [], 0
    for p in rows:
        if p.household_id in visible:
            title = f"结对帮扶：{p.household.head_name}户"
        else:
            title = "结对帮扶 1 户"
            hidden += 1
        out.append(Line(ref(PREFIX_PAIRING, p.pk), _period(p.started_on, p.ended_on), title, "",
                        "已结束" if p.ended_on else "帮扶中"))
    return out, hidden


def _activities(member: Member) -> tuple[list[Line], dict[int, int]]:
    rows = (Signup.objects.filter(member=member).select_related("activity", "activity__community", "attendance")
            .only("status", "activity__title", "activity__starts_at", "activity__place", "activity__community__name",
                  "attendance__checked_in_at", "attendance__checked_out_at")
            .order_by("activity__starts_at", "pk"))
    out, attended = [], {}
    for s in rows:
        a = s.activity
        start = timezone.localtime(a.starts_at)
        detail = f"{a.community.name} · {a.place}"
        att = getattr(s, "attendance", None)
        if att is not None:
            detail += f"；签到 {timezone.localtime(att.checked_in_at):%H:%M}"
            if att.checked_out_at:
                detail += f"，签退 {timezone.localtime(att.checked_out_at):%H:%M}"
            attended[start.year] = attended.get(start.year, 0) + 1
        out.append(Line(ref(PREFIX_SIGNUP, s.pk), f"{start:%Y-%m-%d %H:%M}", a.title, detail, s.get_status_display()))
    return out, attended


def _records(member: Member, min_evidence: int | None) -> list[RecordLine]:
    qs = ServiceRecord.objects.filter(member=member)
    if min_evidence:
        qs = qs.filter(evidence__gte=min_evidence)
    rows = qs.order_by("-served_on", "-pk").values_list(
        "pk", "served_on", "category__name", "hours", "status", "evidence", "description", "people_helped",
        "community__name", "photo", "reject_reason")
    return [RecordLine(number=ref(PREFIX_RECORD, pk), pk=pk, served_on=served_on, category=cat, hours=hours,
                       status=status, status_label=STATUS_LABELS.get(status, status), evidence=evidence,
                       evidence_label=EVIDENCE_LABELS.get(evidence, str(evidence)),
                       evidence_short=EVIDENCE_SHORT.get(evidence, str(evidence)), description=description,
                       people_helped=people, community=community, has_photo=bool(photo), reject_reason=reason)
            for pk, served_on, cat, hours, status, evidence, description, people, community, photo, reason in rows]


def build_manual(*, member: Member, viewer, min_evidence: int | None = None) -> Manual:
    """Everything in one member's manual, as ``viewer`` may see it (a fixed number of queries).

    ``member`` must come from ``manual_member_get_for_user`` (with ``work_unit`` and ``community`` selected).
    """
    weights = evidence_weights()
    card = ContactCard.objects.filter(member=member, is_active=True).first()
    pairings, hidden = _pairings(member, viewer)
    activities, attended = _activities(member)
    records = _records(member, min_evidence)
    totals = Totals()
    per_year: dict[int, YearTotals] = {}
    for r in records:
        year = per_year.setdefault(r.served_on.year, YearTotals(r.served_on.year, Totals()))
        year.records += 1
        year.totals.add(status=r.status, evidence=r.evidence, hours=r.hours, count=1, weights=weights)
        totals.add(status=r.status, evidence=r.evidence, hours=r.hours, count=1, weights=weights)
    for year, n in attended.items():
        per_year.setdefault(year, YearTotals(year, Totals())).activities_attended = n
    return Manual(member=member, card=card, registrations=_registrations(member), claims=_claims(member),
                  teams=_teams(member), pairings=pairings, pairings_hidden=hidden, activities=activities,
                  records=records, years=sorted(per_year.values(), key=lambda y: -y.year), totals=totals,
                  weights=weights, min_evidence=min_evidence)


def manual_read_audit(*, member: Member, viewer, request=None, fmt: str = "html") -> None:
    """Readings by anyone other than the member themself go to the audit log (``manual.viewed``)."""
    if member.user_id is not None and member.user_id == getattr(viewer, "pk", None):
        return
    audit(event="manual.viewed", actor=viewer, request=request, obj=member, object_repr=member.name,
          changes={"format": fmt})
