"""Invariants of activities, sign-ups, attendance and activity records (R46), for ``integrity_check`` and
the tests. Each check is one aggregate query, whatever the number of rows."""

from __future__ import annotations

from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import ExtractMonth, ExtractYear

from jinshequ.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    ServiceRecord,
    Signup,
    SignupStatus,
)
from jinshequ.activities.services import HOLDING


def _ids(qs, limit=10) -> str:
    return ", ".join(str(pk) for pk in qs.values_list("pk", flat=True)[:limit])


def check_activities_integrity() -> list[str]:
    """Problems found, as sentences (empty when everything holds)."""
    problems: list[str] = []

    def report(qs, message):
        n = qs.count()
        if n:
            problems.append(f"{message}: {n} (e.g. {_ids(qs)})")

    held = Count("signups", filter=Q(signups__status__in=HOLDING))
    report(
        Activity.objects.annotate(n=held).exclude(signed_up=F("n")),
        "activities whose signed_up differs from their place-holding sign-ups",
    )
    report(Activity.objects.filter(signed_up__gt=F("capacity")), "activities with more sign-ups than places")
    report(
        Signup.objects.filter(
            activity__status=ActivityStatus.CANCELLED, status__in=HOLDING + (SignupStatus.WAITLISTED,)
        ),
        "open sign-ups of cancelled activities",
    )
    report(
        Attendance.objects.exclude(signup__status=SignupStatus.ATTENDED),
        "attendance of sign-ups not attended",
    )
    report(Attendance.objects.filter(checked_out_at__lt=F("checked_in_at")), "check-outs before the check-in")
    attended = Signup.objects.filter(
        activity_id=OuterRef("activity_id"), member_id=OuterRef("member_id"), status=SignupStatus.ATTENDED
    )
    activity_records = ServiceRecord.objects.filter(activity__isnull=False)
    report(activity_records.exclude(Exists(attended)), "activity records without an attended sign-up")
    report(
        activity_records.exclude(month=ExtractYear("served_on") * 100 + ExtractMonth("served_on")),
        "activity records whose month key differs from the service date",
    )
    # Waitlisted sign-ups while a place is free (before the start) would mean a missed promotion.
    from django.utils import timezone

    report(
        Activity.objects.filter(
            status=ActivityStatus.PUBLISHED,
            starts_at__gt=timezone.now(),
            signed_up__lt=F("capacity"),
            signups__status=SignupStatus.WAITLISTED,
        ).distinct(),
        "activities with a free place and a waiting list",
    )
    return problems
