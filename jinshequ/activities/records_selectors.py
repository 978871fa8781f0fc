"""Scoped reads for service records (服务记录), work manuals (工作手册) and service certificates (服务证明).

Who reads what (function-level access is ``accounts.perms``; these functions decide the rows):

- a member: their own records, manual and certificates;
- a community admin: the records logged in their community, and the manuals of members who live in the
  community or hold a confirmed registration (报到) there;
- a unit admin: the records and manuals of the members of their unit and its sub-units;
- an inspector: the records logged in communities of their region subtree, and the manuals of members who
  live or are registered there;
- everyone else (city, district and street admins included): none — they see aggregates elsewhere.

Objects out of scope are a 404, exactly like missing ones.

Evidence (``EvidenceLevel``): lists and totals take a minimum level, and totals carry a weighted figure:
verified hours × the weight of their evidence level, weights from ``settings.JINSHEQU_EVIDENCE_WEIGHTS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, QuerySet, Sum

from jinshequ.access import audiences
from jinshequ.activities.models import Certificate, EvidenceLevel, RecordStatus, ServiceRecord
from jinshequ.activities.policies import certificate_policy, manual_policy, record_policy
from jinshequ.members.models import Member, Registration

# Record numbers printed on every line of the manual, so paper and system can be checked against each other.
PREFIX_RECORD = "SR"
PREFIX_REGISTRATION = "REG"
PREFIX_CLAIM = "CLM"
PREFIX_TEAM = "TM"
PREFIX_PAIRING = "PR"
PREFIX_SIGNUP = "ACT"

# Default weights: a self-logged hour counts half, one the community confirmed 0.8, an hour proven at the
# venue (QR), by the resident's code or by an inspector's call counts fully.
DEFAULT_EVIDENCE_WEIGHTS = {1: "0.5", 2: "0.8", 3: "1.0", 4: "1.0", 5: "1.0"}


def ref(prefix: str, pk: int) -> str:
    """``SR-000123``: the number of a row as printed in the manual."""
    return f"{prefix}-{pk:06d}"


_REF_RE = re.compile(r"^\s*([A-Za-z]{2,3})\s*-?\s*0*(\d{1,12})\s*$")


def parse_ref(value: str) -> tuple[str, int] | None:
    """``"SR-000123"`` / ``"sr123"`` → ``("SR", 123)``; None when it is not a record number."""
    m = _REF_RE.match(value or "")
    if not m:
        return None
    return m.group(1).upper(), int(m.group(2))


def evidence_weights() -> dict[int, Decimal]:
    """Weight per evidence level (1–5), from ``JINSHEQU_EVIDENCE_WEIGHTS`` with defaults for missing levels."""
    configured = getattr(settings, "JINSHEQU_EVIDENCE_WEIGHTS", {}) or {}
    out = {}
    for level in EvidenceLevel.values:
        raw = configured.get(level, configured.get(str(level), DEFAULT_EVIDENCE_WEIGHTS[level]))
        out[level] = Decimal(str(raw))
    return out


def clean_min_evidence(value) -> int | None:
    try:
        level = int(value)
    except (TypeError, ValueError):
        return None
    return level if level in EvidenceLevel.values else None


# --- scope --------------------------------------------------------------------------------------------


def member_of(user) -> Member | None:
    if not audiences.is_member(user):
        return None
    return Member.objects.filter(user=user).select_related("work_unit", "community").first()


def manual_members_for_user(user) -> QuerySet[Member]:
    """Members whose work manual ``user`` may read (``ManualPolicy``)."""
    return manual_policy.rows(user)


# What the manual's web page shows of the member (its heading); the PDF's cover shows more.
MANUAL_PAGE_FIELDS = ("name", "user_id", "work_unit__name", "community__name")


def manual_member_get_for_user(*, user, pk, only: tuple[str, ...] = ()) -> Member:
    """A member whose manual ``user`` may read (404 otherwise), with unit and community; ``only`` limits
    the columns read (``MANUAL_PAGE_FIELDS`` for the web page)."""
    qs = manual_members_for_user(user).select_related("work_unit", "community")
    return manual_policy.get(user=user, pk=pk, qs=qs.only(*only) if only else qs)


def record_list_for_user(user) -> QuerySet[ServiceRecord]:
    """Service records ``user`` may see (and whose photos they may open): ``RecordPolicy``."""
    return record_policy.rows(user)


def record_get_for_user(*, user, pk) -> ServiceRecord:
    """The record ``pk`` or ``Http404`` for missing and foreign alike."""
    return record_policy.get(user=user, pk=pk)


def verify_queue(user) -> QuerySet[ServiceRecord]:
    """The community admin's queue: pending records of their community, oldest first."""
    community_id = audiences.administered_community_id(user)
    if community_id is None:
        return ServiceRecord.objects.none()
    return (
        ServiceRecord.objects.filter(community_id=community_id, status=RecordStatus.PENDING)
        .select_related("member", "member__work_unit", "category")
        .order_by("served_on", "created_at", "pk")
    )


def certificate_list_for_user(user) -> QuerySet[Certificate]:
    """Certificates of the members whose manual the user reads, for roles that issue certificates."""
    return certificate_policy.rows(user)


def certificate_get_for_user(*, user, pk) -> Certificate:
    """The certificate ``pk`` or ``Http404`` for missing and foreign alike."""
    return certificate_policy.get(user=user, pk=pk)


# --- filters and totals ---------------------------------------------------------------------------------


def filter_records(
    qs: QuerySet[ServiceRecord],
    *,
    status: str = "",
    min_evidence: int | None = None,
    date_from=None,
    date_to=None,
    q: str = "",
) -> QuerySet[ServiceRecord]:
    """Status, minimum evidence level, service date range, and ``q``: a record number (SR-000123) or a
    member's name."""
    if status in RecordStatus.values:
        qs = qs.filter(status=status)
    if min_evidence:
        qs = qs.filter(evidence__gte=min_evidence)
    if date_from:
        qs = qs.filter(served_on__gte=date_from)
    if date_to:
        qs = qs.filter(served_on__lte=date_to)
    q = (q or "").strip()
    if q:
        parsed = parse_ref(q)
        if parsed and parsed[0] == PREFIX_RECORD:
            qs = qs.filter(pk=parsed[1])
        else:
            qs = qs.filter(member__name__contains=q[:40])
    return qs


@dataclass
class Totals:
    """Hours of a set of records. Only verified hours count; ``weighted`` weighs them by evidence level."""

    verified_hours: Decimal = Decimal("0")
    verified_count: int = 0
    pending_hours: Decimal = Decimal("0")
    pending_count: int = 0
    rejected_count: int = 0
    weighted_hours: Decimal = Decimal("0")
    by_evidence: dict[int, Decimal] = field(default_factory=dict)  # verified hours per level

    def add(
        self, *, status: str, evidence: int, hours: Decimal, count: int, weights: dict[int, Decimal]
    ) -> None:
        hours = hours or Decimal("0")
        if status == RecordStatus.VERIFIED:
            self.verified_hours += hours
            self.verified_count += count
            self.weighted_hours += hours * weights.get(evidence, Decimal("1"))
            self.by_evidence[evidence] = self.by_evidence.get(evidence, Decimal("0")) + hours
        elif status == RecordStatus.PENDING:
            self.pending_hours += hours
            self.pending_count += count
        else:
            self.rejected_count += count

    @property
    def weighted_display(self) -> Decimal:
        return self.weighted_hours.quantize(Decimal("0.1"))

    @property
    def evidence_rows(self) -> list[tuple[int, str, Decimal]]:
        """``(level, label, verified hours)`` for every level, highest first (zeros included)."""
        return [
            (level, str(label), self.by_evidence.get(level, Decimal("0")))
            for level, label in reversed(EvidenceLevel.choices)
        ]


def record_totals(qs: QuerySet[ServiceRecord], weights: dict[int, Decimal] | None = None) -> Totals:
    """Totals of ``qs`` in one grouped query (at most 15 groups: status × evidence)."""
    weights = weights or evidence_weights()
    totals = Totals()
    rows = qs.order_by().values("status", "evidence").annotate(h=Sum("hours"), n=Count("id"))
    for row in rows:
        totals.add(
            status=row["status"], evidence=row["evidence"], hours=row["h"], count=row["n"], weights=weights
        )
    return totals


def first_registration_date(member: Member):
    """The first day the member was ever confirmed in a community (报到确认), or None."""
    return (
        Registration.objects.filter(member=member, confirmed_on__isnull=False)
        .order_by("confirmed_on")
        .values_list("confirmed_on", flat=True)
        .first()
    )


def hours_on_day(member: Member, day, *, exclude_pk: int | None = None) -> Decimal:
    """Hours already logged for ``day`` by the member, rejected records left out."""
    qs = ServiceRecord.objects.filter(member=member, served_on=day).exclude(status=RecordStatus.REJECTED)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.aggregate(h=Sum("hours"))["h"] or Decimal("0")
