"""Invariants of service records, residents' codes and certificates (R46), for ``integrity_check`` and tests.

Each check is one aggregate query, whatever the number of rows. (Activity records — those with an
``activity`` — are checked by ``activities.integrity``; these checks cover every record.)
"""

from __future__ import annotations

from django.db.models import F, Q, Sum
from django.db.models.functions import ExtractMonth, ExtractYear

from jinshequ.activities.models import Certificate, EvidenceLevel, RecordStatus, ResidentCode, ServiceRecord


def _ids(qs, limit=10) -> str:
    return ", ".join(str(pk) for pk in qs.values_list("pk", flat=True)[:limit])


def check_records_integrity() -> list[str]:
    """Problems found, as sentences (empty when everything holds)."""
    problems: list[str] = []

    def report(qs, message):
        n = qs.count()
        if n:
            problems.append(f"{message}: {n} (e.g. {_ids(qs)})")

    own = ServiceRecord.objects.filter(activity__isnull=True)
    report(
        own.exclude(month=ExtractYear("served_on") * 100 + ExtractMonth("served_on")),
        "self-logged records whose month key differs from the service date",
    )
    report(
        ServiceRecord.objects.filter(status=RecordStatus.VERIFIED, verified_at__isnull=True),
        "verified records without a verification time",
    )
    report(
        ServiceRecord.objects.filter(status=RecordStatus.VERIFIED, evidence__lt=EvidenceLevel.COMMUNITY),
        "verified records still at the self-logged evidence level",
    )
    report(
        ServiceRecord.objects.filter(status=RecordStatus.REJECTED, reject_reason=""),
        "rejected records without a reason",
    )
    report(
        ServiceRecord.objects.filter(
            Q(hours__lt=0.5) | Q(hours__gt=24) | Q(evidence__lt=1) | Q(evidence__gt=5)
        ),
        "records with hours or an evidence level out of range",
    )
    over = (
        ServiceRecord.objects.exclude(status=RecordStatus.REJECTED)
        .values("member_id", "served_on")
        .annotate(h=Sum("hours"))
        .filter(h__gt=24)
        .order_by()
    )
    n = over.count()
    if n:
        sample = ", ".join(f"member {r['member_id']} on {r['served_on']}" for r in over[:5])
        problems.append(f"members with more than 24 hours on one day: {n} (e.g. {sample})")
    report(
        ResidentCode.objects.filter(used_at__isnull=False, record__evidence__lt=EvidenceLevel.RESIDENT),
        "confirmed residents' codes whose record is below the resident level",
    )
    report(
        ResidentCode.objects.filter(record__isnull=False).exclude(member_id=F("record__member_id")),
        "residents' codes of another member's record",
    )
    report(
        Certificate.objects.filter(Q(hours__lt=0) | Q(period_end__lt=F("period_start"))),
        "certificates with negative hours or an inverted period",
    )
    report(
        Certificate.objects.filter(revoked=True, revoked_at__isnull=True),
        "revoked certificates without a date",
    )
    return problems
