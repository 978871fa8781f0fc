"""Cross-table invariants (R46), checked by ``integrity_check`` and by the state-machine test.

Each check is one or two aggregate queries, so the command runs in seconds at city scale.
"""

from __future__ import annotations

from django.db.models import Count, Q

from jinshequ.members.models import ContactCard, Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.regions.models import Region, RegionKind
from jinshequ.units.models import WorkUnit


def _ids(qs, limit=10) -> str:
    return ", ".join(str(pk) for pk in qs.values_list("pk", flat=True)[:limit])


def check_integrity() -> list[str]:
    problems: list[str] = []

    def report(qs, message):
        n = qs.count()
        if n:
            problems.append(f"{message}: {n} (e.g. {_ids(qs)})")

    for status in (RegistrationStatus.CONFIRMED, RegistrationStatus.PENDING):
        report(
            Member.objects.annotate(n=Count("registrations", filter=Q(registrations__status=status))).filter(
                n__gt=1
            ),
            f"members with more than one {status} registration",
        )
    report(
        Registration.objects.filter(
            status__in=[RegistrationStatus.CONFIRMED, RegistrationStatus.PENDING]
        ).exclude(member__status=MemberStatus.ACTIVE),
        "open registrations of members who left or were merged",
    )
    report(
        Registration.objects.exclude(community__kind=RegionKind.COMMUNITY), "registrations to a non-community"
    )
    report(
        Registration.objects.filter(status=RegistrationStatus.CONFIRMED, confirmed_on__isnull=True),
        "confirmed registrations without a date",
    )
    report(
        Registration.objects.filter(status=RegistrationStatus.ENDED, ended_on__isnull=True),
        "ended registrations without an end date",
    )
    report(Member.objects.exclude(community__kind=RegionKind.COMMUNITY), "members living in a non-community")
    report(
        Member.objects.filter(status=MemberStatus.MERGED, merged_into__isnull=True), "merged without a target"
    )
    report(
        Member.objects.annotate(n=Count("cards", filter=Q(cards__is_active=True))).filter(n__gt=1),
        "members with more than one active card",
    )
    report(
        ContactCard.objects.filter(is_active=True).exclude(member__status=MemberStatus.ACTIVE),
        "active cards of members who left",
    )
    for region in Region.objects.select_related("parent").only("pk", "path", "parent__path").iterator():
        expected = f"{region.parent.path if region.parent else ''}{region.pk}."
        if region.path != expected:
            problems.append(f"region {region.pk} has path {region.path!r}, expected {expected!r}")
    region_paths = dict(Region.objects.values_list("pk", "path"))
    for unit in (
        WorkUnit.objects.select_related("parent")
        .only("pk", "path", "region_id", "region_path", "parent__path")
        .iterator()
    ):
        expected = f"{unit.parent.path if unit.parent else ''}{unit.pk}."
        if unit.path != expected:
            problems.append(f"unit {unit.pk} has path {unit.path!r}, expected {expected!r}")
        if unit.region_path != (region_paths.get(unit.region_id, "") if unit.region_id else ""):
            problems.append(f"unit {unit.pk} has a stale region path")
    from jinshequ.activities.integrity import check_activities_integrity
    from jinshequ.activities.records_integrity import check_records_integrity
    from jinshequ.posts.integrity import check_posts_integrity

    problems.extend(check_posts_integrity())
    problems.extend(check_activities_integrity())
    problems.extend(check_records_integrity())
    return problems
