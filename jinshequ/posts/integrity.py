"""Invariants of posts, claims, teams and pairing (R46), for ``integrity_check`` and the state-machine test.

Each check is one aggregate query, whatever the number of rows.
"""

from __future__ import annotations

from django.db.models import Count, Exists, F, OuterRef, Q

from jinshequ.members.models import MemberStatus, Registration, RegistrationStatus
from jinshequ.posts.models import PLACE_HOLDING, Pairing, Post, PostClaim, TeamMembership


def _ids(qs, limit=10) -> str:
    return ", ".join(str(pk) for pk in qs.values_list("pk", flat=True)[:limit])


def check_posts_integrity(*, strict_registration: bool = True) -> list[str]:
    """Problems found, as sentences (empty when everything holds).

    ``strict_registration``: also require every open claim, team membership and pairing to belong to a
    member registered in that community (holds once the report-in services call
    ``posts.services.member_service_end`` when a registration ends).
    """
    problems: list[str] = []

    def report(qs, message):
        n = qs.count()
        if n:
            problems.append(f"{message}: {n} (e.g. {_ids(qs)})")

    held = Count("claims", filter=Q(claims__status__in=PLACE_HOLDING))
    report(
        Post.objects.annotate(n=held).exclude(claimed=F("n")),
        "posts whose claimed differs from their open claims",
    )
    report(Post.objects.filter(claimed__gt=F("capacity")), "posts with more places claimed than capacity")
    report(
        PostClaim.objects.filter(status__in=PLACE_HOLDING, post__is_active=False),
        "open claims on inactive posts",
    )
    report(
        PostClaim.objects.filter(status__in=PLACE_HOLDING).exclude(member__status=MemberStatus.ACTIVE),
        "open claims of members who left or were merged",
    )
    report(
        PostClaim.objects.filter(status="active", decided_at__isnull=True),
        "active claims without a decision time",
    )
    report(
        Pairing.objects.filter(ended_on__isnull=True, household__is_active=False),
        "open pairings of closed households",
    )
    if strict_registration:

        def registered(community_ref: str):
            return Exists(
                Registration.objects.filter(
                    member=OuterRef("member_id"),
                    status=RegistrationStatus.CONFIRMED,
                    community_id=OuterRef(community_ref),
                )
            )

        report(
            PostClaim.objects.filter(status__in=PLACE_HOLDING).exclude(registered("post__community_id")),
            "open claims outside the member's registered community",
        )
        report(
            TeamMembership.objects.filter(left_at__isnull=True).exclude(registered("team__community_id")),
            "team memberships outside the member's registered community",
        )
        report(
            Pairing.objects.filter(ended_on__isnull=True).exclude(registered("household__community_id")),
            "pairings outside the member's registered community",
        )
    return problems
