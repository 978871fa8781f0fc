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
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from jinshequ.accounts.models import Role
from jinshequ.accounts.perms import Perm, user_has_perm
from jinshequ.activities.models import Certificate, EvidenceLevel, RecordStatus, ServiceRecord
from jinshequ.members.models import Member, Registration, RegistrationStatus

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
    if getattr(user, "role", None) != Role.MEMBER or not getattr(user, "is_authenticated", False):
        return None
    return Member.objects.filter(user=user).select_related("work_unit", "community").first()


def _registered_in(community_filter: Q) -> QuerySet:
    return (Registration.objects.filter(community_filter, status=RegistrationStatus.CONFIRMED)
            .values("member_id"))


def manual_members_for_user(user) -> QuerySet[Member]:
    """Members whose work manual ``user`` may read."""
    qs = Member.objects.all()
    if not user_has_perm(user, Perm.MANUAL_VIEW):
        return qs.none()
    role = user.role
    if role == Role.MEMBER:
        return qs.filter(user=user)
    if role == Role.UNIT_ADMIN and user.work_unit_id:
        return qs.filter(work_unit__path__startswith=user.work_unit.path)
    if role == Role.COMMUNITY_ADMIN and user.region_id:
        return qs.filter(Q(community_id=user.region_id)
                         | Q(pk__in=_registered_in(Q(community_id=user.region_id))))
    if role == Role.INSPECTOR and user.region_id:
        path = user.region.path
        return qs.filter(Q(community__path__startswith=path)
                         | Q(pk__in=_registered_in(Q(community__path__startswith=path))))
    return qs.none()


# What the manual's web page shows of the member (its heading); the PDF's cover shows more.
MANUAL_PAGE_FIELDS = ("name", "user_id", "work_unit__name", "community__name")


def manual_member_get_for_user(*, user, pk, only: tuple[str, ...] = ()) -> Member:
    """A member whose manual ``user`` may read (404 otherwise), with unit and community; ``only`` limits
    the columns read (``MANUAL_PAGE_FIELDS`` for the web page)."""
    qs = manual_members_for_user(user).select_related("work_unit", "community")
    if only:
        qs = qs.only(*only)
    try:
        return qs.get(pk=pk)
    except (Member.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def record_list_for_user(user) -> QuerySet[ServiceRecord]:
    """Service records ``user`` may see (and whose photos they may open)."""
    qs = ServiceRecord.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    role = user.role
    if role == Role.MEMBER:
        return qs.filter(member__user=user)
    if role == Role.UNIT_ADMIN and user.work_unit_id and user_has_perm(user, Perm.MANUAL_VIEW):
        return qs.filter(member__work_unit__path__startswith=user.work_unit.path)
    if role == Role.COMMUNITY_ADMIN and user.region_id:
        return qs.filter(Q(community_id=user.region_id) | Q(member__in=manual_members_for_user(user).values("pk")))
    if role == Role.INSPECTOR and user.region_id and user_has_perm(user, Perm.MANUAL_VIEW):
        return qs.filter(Q(community__path__startswith=user.region.path)
                         | Q(member__in=manual_members_for_user(user).values("pk")))
    return qs.none()


def record_get_for_user(*, user, pk) -> ServiceRecord:
    try:
        return (record_list_for_user(user)
                .select_related("member", "member__work_unit", "community", "category", "verified_by")
                .get(pk=pk))
    except (ServiceRecord.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def verify_queue(user) -> QuerySet[ServiceRecord]:
    """The community admin's queue: pending records of their community, oldest first."""
    if getattr(user, "role", None) != Role.COMMUNITY_ADMIN or not user.region_id:
        return ServiceRecord.objects.none()
    return (ServiceRecord.objects.filter(community_id=user.region_id, status=RecordStatus.PENDING)
            .select_related("member", "member__work_unit", "category")
            .order_by("served_on", "created_at", "pk"))


def certificate_list_for_user(user) -> QuerySet[Certificate]:
    """Certificates of the members whose manual the user reads, for roles that issue certificates."""
    if not user_has_perm(user, Perm.CERTIFICATE_ISSUE):
        return Certificate.objects.none()
    return Certificate.objects.filter(member__in=manual_members_for_user(user).values("pk"))


def certificate_get_for_user(*, user, pk) -> Certificate:
    try:
        return certificate_list_for_user(user).select_related("member", "issued_by").get(pk=pk)
    except (Certificate.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# --- filters and totals ---------------------------------------------------------------------------------


def filter_records(qs: QuerySet[ServiceRecord], *, status: str = "", min_evidence: int | None = None,
                   date_from=None, date_to=None, q: str = "") -> QuerySet[ServiceRecord]:
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

    def add(self, *, status: str, evidence: int, hours: Decimal, count: int, weights: dict[int, Decimal]) -> None:
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
        return [(level, str(label), self.by_evidence.get(level, Decimal("0")))
                for level, label in reversed(EvidenceLevel.choices)]


def record_totals(qs: QuerySet[ServiceRecord], weights: dict[int, Decimal] | None = None) -> Totals:
    """Totals of ``qs`` in one grouped query (at most 15 groups: status × evidence)."""
    weights = weights or evidence_weights()
    totals = Totals()
    rows = qs.order_by().values("status", "evidence").annotate(h=Sum("hours"), n=Count("id"))
    for row in rows:
        totals.add(status=row["status"], evidence=row["evidence"], hours=row["h"], count=row["n"], weights=weights)
    return totals


def first_registration_date(member: Member):
    """The first day the member was ever confirmed in a community (报到确认), or None."""
    return (Registration.objects.filter(member=member, confirmed_on__isnull=False)
            .order_by("confirmed_on").values_list("confirmed_on", flat=True).first())


def hours_on_day(member: Member, day, *, exclude_pk: int | None = None) -> Decimal:
    """Hours already logged for ``day`` by the member, rejected records left out."""
    qs = ServiceRecord.objects.filter(member=member, served_on=day).exclude(status=RecordStatus.REJECTED)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.aggregate(h=Sum("hours"))["h"] or Decimal("0")
