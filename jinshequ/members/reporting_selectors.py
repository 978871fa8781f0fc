"""Scoped reads for report-in: each member's check-off status, community queues and ledgers.

Status of an active member, in order: ``reported`` (a confirmed registration), ``exempt`` (a valid
exemption and not reported), ``pending`` (waiting for the community), ``outstanding`` (none of these).
Members who left or were merged are outside the roster and the rates.
"""

from __future__ import annotations

from django.db.models import Case, CharField, Exists, F, OuterRef, QuerySet, Subquery, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jinshequ.access.audiences import administered_community_id
from jinshequ.members.models import Exemption, Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.members.policies import registration_policy
from jinshequ.members.selectors import member_list_for_user


class ReportStatus:
    REPORTED = "reported"
    PENDING = "pending"
    EXEMPT = "exempt"
    OUTSTANDING = "outstanding"
    LABELS = {REPORTED: _("已报到"), PENDING: _("待确认"), EXEMPT: _("免报到"), OUTSTANDING: _("未报到")}
    ORDER = (OUTSTANDING, PENDING, REPORTED, EXEMPT)


def valid_exemptions(day=None) -> QuerySet[Exemption]:
    day = day or timezone.localdate()
    return Exemption.objects.filter(revoked_at__isnull=True, valid_until__gte=day)


def with_report_status(qs: QuerySet[Member], day=None) -> QuerySet[Member]:
    """Annotate ``report_status``, ``reg_community_id``, ``reg_community_name``, ``reg_confirmed_on``,
    ``pending_community_name``, ``exempt_until`` and ``exempt_reason`` with correlated subqueries
    (one SQL statement, whatever the row count)."""
    confirmed = Registration.objects.filter(member=OuterRef("pk"), status=RegistrationStatus.CONFIRMED)
    pending = Registration.objects.filter(member=OuterRef("pk"), status=RegistrationStatus.PENDING)
    exemption = valid_exemptions(day).filter(member=OuterRef("pk")).order_by("-valid_until")
    return qs.annotate(
        has_confirmed=Exists(confirmed),
        has_pending=Exists(pending),
        has_exemption=Exists(exemption),
        reg_community_id=Subquery(confirmed.values("community_id")[:1]),
        reg_community_name=Subquery(confirmed.values("community__name")[:1]),
        reg_confirmed_on=Subquery(confirmed.values("confirmed_on")[:1]),
        pending_community_name=Subquery(pending.values("community__name")[:1]),
        exempt_until=Subquery(exemption.values("valid_until")[:1]),
        exempt_reason=Subquery(exemption.values("reason")[:1]),
    ).annotate(
        report_status=Case(
            When(has_confirmed=True, then=Value(ReportStatus.REPORTED)),
            When(has_exemption=True, then=Value(ReportStatus.EXEMPT)),
            When(has_pending=True, then=Value(ReportStatus.PENDING)),
            default=Value(ReportStatus.OUTSTANDING),
            output_field=CharField(),
        )
    )


def filter_report_status(qs: QuerySet[Member], status: str, day=None) -> QuerySet[Member]:
    """Restrict to one status without the annotations (for counts and drill-down lists)."""
    confirmed = Registration.objects.filter(member=OuterRef("pk"), status=RegistrationStatus.CONFIRMED)
    pending = Registration.objects.filter(member=OuterRef("pk"), status=RegistrationStatus.PENDING)
    exempt = valid_exemptions(day).filter(member=OuterRef("pk"))
    qs = qs.filter(status=MemberStatus.ACTIVE)
    if status == ReportStatus.REPORTED:
        return qs.filter(Exists(confirmed))
    if status == ReportStatus.EXEMPT:
        return qs.filter(~Exists(confirmed), Exists(exempt))
    if status == ReportStatus.PENDING:
        return qs.filter(~Exists(confirmed), ~Exists(exempt), Exists(pending))
    if status == ReportStatus.OUTSTANDING:
        return qs.filter(~Exists(confirmed), ~Exists(exempt), ~Exists(pending))
    return qs


def registration_list_for_user(user) -> QuerySet[Registration]:
    """Registrations a user may see: those to their communities, or of members in their scope."""
    return registration_policy.rows(user)


def registration_get_for_user(*, user, pk) -> Registration:
    """The registration ``pk`` with member and community, or ``Http404`` for missing and foreign alike."""
    return registration_policy.get(user=user, pk=pk)


def pending_for_community(user) -> QuerySet[Registration]:
    """The community admin's queue: pending registrations to their community, oldest first."""
    community_id = administered_community_id(user)
    if community_id is None:
        return Registration.objects.none()
    return (
        Registration.objects.filter(community_id=community_id, status=RegistrationStatus.PENDING)
        .select_related("member", "member__work_unit")
        .order_by("submitted_at", "id")
    )


def ledger_for_community(community) -> QuerySet[Registration]:
    """登记台账: every member registered in the community (confirmed and ended), newest first."""
    return (
        Registration.objects.filter(
            community=community, status__in=[RegistrationStatus.CONFIRMED, RegistrationStatus.ENDED]
        )
        .select_related("member", "member__work_unit")
        .order_by(F("ended_on").desc(nulls_first=True), "-confirmed_on", "-id")
    )


def member_scope_for_roster(user) -> QuerySet[Member]:
    return member_list_for_user(user)
