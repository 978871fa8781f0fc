"""Printing contact cards (联系卡) and report-in receipts (报到回执): what goes on paper, and the record of it.

Reads start from the scope selectors (``roster_members`` → ``member_list_for_user``); the one write,
marking cards printed, runs in a transaction with its audit row. Issuing cards stays in ``reporting``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import segno
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from jinshequ.accounts.services import audit
from jinshequ.members import reporting
from jinshequ.members.models import ContactCard, Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.members.roster import roster_members
from jinshequ.units.models import WorkUnit

# One PDF holds at most this many cards (8 per page) or receipts (3 per page): above it the print is
# split into parts, so one request stays within about half a minute and a few hundred MB
# (benchmarks/cards_pdf.py). ``JINSHEQU_CARDS_PER_PDF`` lowers it for small servers.
CARDS_PER_PDF = int(getattr(settings, "JINSHEQU_CARDS_PER_PDF", 2000))
RECEIPTS_PER_PDF = int(getattr(settings, "JINSHEQU_RECEIPTS_PER_PDF", 600))
CARDS_PER_PAGE = 8
RECEIPTS_PER_PAGE = 3


@dataclass
class PrintedCard:
    name: str
    unit: str
    community: str
    number: str
    qr: str  # data: URI of a PNG, one pixel per module


def card_print_members(user, unit: WorkUnit, *, include_sub: bool, only_unprinted: bool) -> QuerySet[Member]:
    """Active members of ``unit`` (and sub-units) in the user's scope, in print order (unit, name).

    ``only_unprinted``: members whose active card was never printed, or who have no card yet.
    """
    qs = roster_members(user, unit, include_sub=include_sub)
    if only_unprinted:
        printed = ContactCard.objects.filter(is_active=True, printed_at__isnull=False).values("member_id")
        qs = qs.exclude(pk__in=printed)
    return qs.order_by("work_unit__path", "name_pinyin", "id")


def card_print_counts(members: QuerySet[Member]) -> dict[str, int]:
    """How many members are selected, how many hold an active card, and how many of those were printed."""
    ids = members.values("pk")
    cards = ContactCard.objects.filter(member__in=ids, is_active=True)
    return {
        "members": members.count(),
        "with_card": cards.count(),
        "printed": cards.filter(printed_at__isnull=False).count(),
    }


def parts(total: int, size: int) -> list[dict]:
    """Split ``total`` rows into numbered parts of ``size`` for printing in several PDFs."""
    return [
        {"number": i + 1, "first": start + 1, "last": min(start + size, total)}
        for i, start in enumerate(range(0, total, size))
    ]


def qr_png_uri(data: str, *, fast: bool = True) -> str:
    """A QR code as a tiny PNG (one pixel per module, 2-module quiet zone), scaled crisply by the PDF.

    Raster codes lay out far faster in WeasyPrint than vector ones. ``fast`` fixes the mask pattern
    instead of scoring all eight (a fifth of the time; every mask gives a valid code).
    """
    return segno.make(data, error="m", micro=False, mask=0 if fast else None).png_data_uri(scale=1, border=2)


def community_label(community) -> str:
    """``东风街道 东风社区``: the street makes a common community name unambiguous (select ``parent``)."""
    parent = community.parent.name if community.parent_id else ""
    return f"{parent} {community.name}".strip()


def cards_prepare(
    *, members: list[Member], actor, fast_qr: bool = True
) -> list[tuple[ContactCard, PrintedCard]]:
    """The active card of each member (the first card is issued for those without one), ready to print.

    Members must come with ``work_unit`` and ``community__parent`` selected.
    """
    try:
        reporting.cards_issue_missing(members, actor=actor)
    except IntegrityError:  # another admin printing the same unit issued some of them a moment ago
        reporting.cards_issue_missing(members, actor=actor)
    cards = {
        c.member_id: c for c in ContactCard.objects.filter(member__in=[m.pk for m in members], is_active=True)
    }
    out = []
    for m in members:
        card = cards[m.pk]
        out.append(
            (
                card,
                PrintedCard(
                    name=m.name,
                    unit=m.work_unit.name,
                    community=community_label(m.community),
                    number=card.number,
                    qr=qr_png_uri(reporting.card_token(card), fast=fast_qr),
                ),
            )
        )
    return out


@transaction.atomic
def cards_mark_printed(
    *,
    cards: list[ContactCard],
    actor,
    request=None,
    unit: WorkUnit | None = None,
    member: Member | None = None,
) -> int:
    """Record that ``cards`` went to paper: ``printed_at`` on each, one ``card.printed`` audit row."""
    now = timezone.now()
    ids = [c.pk for c in cards]
    for start in range(0, len(ids), 500):
        ContactCard.objects.filter(pk__in=ids[start : start + 500]).update(printed_at=now)
    changes = {"count": len(ids)}
    if unit is not None:
        audit(event="card.printed", actor=actor, request=request, obj=unit, changes=changes)
    elif member is not None:
        audit(
            event="card.printed",
            actor=actor,
            request=request,
            obj=member,
            object_repr=f"{member.name} {cards[0].number if cards else ''}".strip(),
            changes=changes,
        )
    else:
        audit(
            event="card.printed",
            actor=actor,
            request=request,
            object_type="members.contactcard",
            changes=changes,
        )
    return len(ids)


def card_history(member: Member) -> tuple[ContactCard | None, list[ContactCard]]:
    """The member's active card and the revoked ones (newest first), for the member page panel."""
    cards = list(member.cards.order_by("-issued_at", "-id"))
    active = next((c for c in cards if c.is_active), None)
    return active, [c for c in cards if not c.is_active]


# --- report-in receipts (报到回执) ------------------------------------------------------------------


def receipt_registrations(
    members: QuerySet[Member], *, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[Registration]:
    """Current (confirmed) registrations of ``members``, in unit and name order, for receipts."""
    qs = Registration.objects.filter(
        member__in=members.filter(status=MemberStatus.ACTIVE).values("pk"),
        status=RegistrationStatus.CONFIRMED,
    )
    if since:
        qs = qs.filter(confirmed_on__gte=since)
    if until:
        qs = qs.filter(confirmed_on__lte=until)
    return qs.select_related(
        "member",
        "member__work_unit",
        "member__community__parent",
        "community",
        "community__parent",
        "decided_by",
    ).order_by("member__work_unit__path", "member__name_pinyin", "member_id")
