"""The demo city's report-in data (issue 3): campaigns, registrations, exemptions, contact cards,
notifications and unit history.

The mix (of active members): ~85% reported (confirmed) — about half of them in last year's campaign,
the rest spread over the current one, front-loaded as a campaign's launch is; mostly in their home
community, ~3% elsewhere; ~2% after a transfer (an earlier registration ENDED on the day the new one was
confirmed) — ~5% waiting for confirmation, ~3% exempt (a valid exemption; a few more expired or revoked),
the rest outstanding; ~1% have a rejected registration with a reason. Members who left have no open
registration (some an ENDED one) and no active card. Each demo community admin's queue holds several
requests, among them a transfer (a member reported elsewhere who moved here) and a non-resident.

Everything is drawn from a seeded ``random.Random`` and dated relative to ``as_of``; every moment lies
before ``as_of`` begins (``anchor``). The invariants of ``jinshequ.members.reporting`` hold: at most one
confirmed and one pending registration per member, confirmed ones dated, ended ones with an end date,
one active card per member, at most one unrevoked exemption per member.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field

from django.urls import reverse

from jinshequ.accounts.models import Notification, User
from jinshequ.campaigns.models import Campaign
from jinshequ.demo.load import DAY, FastRandom, Loader, moment
from jinshequ.members.models import (
    ContactCard,
    Exemption,
    Member,
    MemberStatus,
    Registration,
    RegistrationMethod,
    RegistrationStatus,
    UnitChange,
)
from jinshequ.members.roster import REMINDER_KIND, REMINDER_TITLE, reminder_body
from jinshequ.regions.models import Region

CONFIRMED, PENDING, EXEMPT, OUTSTANDING = 0.85, 0.05, 0.03, 0.07
IN_PREVIOUS = 0.55  # share of the reported members first confirmed in last year's campaign
TRANSFERRED = 0.02  # of all active members: confirmed here after an ENDED registration elsewhere
ELSEWHERE = 0.03  # confirmed in a community other than their home
CARDS = 0.92

REJECT_REASONS = (
    "所选社区与您的居住地址不符，请选择实际居住的社区后重新提交。",
    "本社区查无此住址，请核实门牌号后重新提交。",
    "您已在其他社区报到，请勿重复提交。",
    "请先与单位党组织核对人员信息后再提交报到。",
)
EXEMPTION_NOTES = {
    "posted_away": ("援疆干部，外派期间免报到", "驻外项目部工作，长期在外地", "选派驻村第一书记"),
    "sick_leave": ("病休，单位已备案", "术后康复期，病休半年"),
    "paired": ("已在单位结对共建社区报到服务", "随单位党组织在结对社区报到"),
    "other": ("产假期间", "在省直机关挂职锻炼", "脱产培训一年"),
}
EXEMPTION_WEIGHTS = (("posted_away", 4), ("sick_leave", 3), ("paired", 2), ("other", 1))


@dataclass
class ReportWorld:
    """What the report-in step decided, for the service step."""

    as_of: dt.date
    anchor: int  # local seconds at the start of ``as_of``: everything generated happened before it
    campaign: Campaign
    previous: Campaign
    members: list[Member]
    communities: list[Region]
    # member id → (community id, ordinal of confirmed_on) of the member's current (confirmed) registration
    registered: dict[int, tuple[int, int]]
    users: dict[str, User]
    admin_of: dict[int, int]  # community id → user id of its demo community admin
    demo_member: Member
    demo_member_2: Member
    counts: dict[str, int] = field(default_factory=dict)


def _rng(seed: int, scale: str, stream: str) -> random.Random:
    return FastRandom(f"jinshequ-demo:{seed}:{scale}:{stream}")


def _months_before(day: dt.date, months: int) -> dt.date:
    y, m = day.year, day.month - months
    while m < 1:
        m += 12
        y -= 1
    return dt.date(y, m, 1)


def _campaign_year(first: dt.date, last: dt.date) -> int:
    """A campaign is named after the year that holds most of it."""
    return first.year if first.month <= 6 else last.year


def _campaigns(as_of: dt.date) -> tuple[Campaign, Campaign]:
    """The current campaign (started ~8 months ago, report-in deadline passed) and last year's."""
    start = _months_before(as_of, 8)
    end = dt.date(start.year + 1, start.month, 1) - dt.timedelta(days=1)
    prev_start = dt.date(start.year - 1, start.month, 1)
    prev_end = start - dt.timedelta(days=1)
    previous = Campaign.objects.create(
        name=f"{_campaign_year(prev_start, prev_end)}年在职党员进社区",
        starts_on=prev_start,
        ends_on=prev_end,
        report_deadline=prev_start + dt.timedelta(days=225),
        is_current=False,
    )
    campaign = Campaign.objects.create(
        name=f"{_campaign_year(start, end)}年在职党员进社区",
        starts_on=start,
        ends_on=end,
        report_deadline=start + dt.timedelta(days=225),
        is_current=True,
    )
    return campaign, previous


def _early_day(rng: random.Random, first: int, last: int) -> int:
    """A day in [first, last], front-loaded (most report in soon after a campaign's launch)."""
    if last <= first:
        return first
    return first + int((last - first + 1) * rng.random() ** 2.2)


def _office_time(rng: random.Random, day: int) -> int:
    return day * DAY + rng.randrange(8 * 3600 + 1800, 17 * 3600 + 1800)


def _any_time(rng: random.Random, day: int) -> int:
    return day * DAY + rng.randrange(8 * 3600, 22 * 3600)


class _Builder:
    def __init__(
        self,
        *,
        seed: int,
        scale: str,
        as_of: dt.date,
        members: list[Member],
        communities: list[Region],
        unit_ids: list[int],
        loader: Loader,
    ) -> None:
        self.rng = _rng(seed, scale, "reporting")
        self.as_of = as_of
        self.anchor = moment(as_of)
        self.today = as_of.toordinal()
        self.members = members
        self.communities = communities
        self.unit_ids = unit_ids
        self.load = loader
        self.name_of = {c.pk: c.name for c in communities}
        by_street: dict[int, list[int]] = defaultdict(list)
        for c in communities:
            by_street[c.parent_id].append(c.pk)
        self.street_of = {c.pk: c.parent_id for c in communities}
        self.by_street = by_street
        self.community_ids = [c.pk for c in communities]
        self.registrations: list[tuple] = []
        self.registered: dict[int, tuple[int, int]] = {}
        self.exemptions: list[tuple] = []
        self.notifications: list[tuple] = []

    # --- helpers ---------------------------------------------------------------------------

    def neighbour(self, community_id: int) -> int:
        """Another community, in the same street when there is one."""
        rng = self.rng
        near = [c for c in self.by_street[self.street_of[community_id]] if c != community_id]
        if near and rng.random() < 0.8:
            return rng.choice(near)
        while True:
            other = rng.choice(self.community_ids)
            if other != community_id:
                return other

    def reg(
        self,
        member_id: int,
        community_id: int,
        campaign_id: int,
        status: str,
        method: str,
        submitted: int,
        *,
        submitted_by=None,
        decided: int | None = None,
        decided_by=None,
        reject_reason: str = "",
        confirmed_on: int | None = None,
        ended_on: int | None = None,
        end_reason: str = "",
    ) -> None:
        ts, day = self.load.ts, self.load.day
        self.registrations.append(
            (  # plain values: psycopg's COPY would write an Enum's name
                member_id,
                community_id,
                campaign_id,
                str(status),
                str(method),
                ts(submitted),
                submitted_by,
                ts(decided),
                decided_by,
                reject_reason,
                day(confirmed_on) if confirmed_on is not None else None,
                day(ended_on) if ended_on is not None else None,
                end_reason,
            )
        )

    def confirmed(
        self,
        member: Member,
        community_id: int,
        campaign: Campaign,
        day: int,
        *,
        method: str | None = None,
        admin: int | None = None,
        user: int | None = None,
    ) -> None:
        """A confirmed registration: submitted (self/QR: a few days before), decided on ``day``."""
        rng = self.rng
        if method is None:
            method = rng.choices(
                (RegistrationMethod.SELF, RegistrationMethod.OFFICE, RegistrationMethod.QR),
                weights=(45, 35, 20),
            )[0]
        decided = _office_time(rng, day)
        if method == RegistrationMethod.OFFICE:
            submitted, by = decided, admin
        else:
            submitted = min(
                _any_time(rng, max(day - rng.choice((0, 0, 1, 1, 2, 3, 4)), campaign.starts_on.toordinal())),
                decided - 600,
            )
            by = user
        self.reg(
            member.pk,
            community_id,
            campaign.pk,
            RegistrationStatus.CONFIRMED,
            method,
            submitted,
            submitted_by=by,
            decided=decided,
            decided_by=admin,
            confirmed_on=day,
        )
        self.registered[member.pk] = (community_id, day)

    def ended(
        self,
        member: Member,
        community_id: int,
        campaign: Campaign,
        day: int,
        ended_on: int,
        reason: str,
        admin: int | None = None,
    ) -> None:
        rng = self.rng
        method = rng.choice((RegistrationMethod.SELF, RegistrationMethod.OFFICE))
        decided = _office_time(rng, day)
        self.reg(
            member.pk,
            community_id,
            campaign.pk,
            RegistrationStatus.ENDED,
            method,
            decided - 3600 * 20,
            decided=decided,
            decided_by=admin,
            confirmed_on=day,
            ended_on=ended_on,
            end_reason=reason,
        )

    def pending(
        self, member: Member, community_id: int, campaign: Campaign, *, user: int | None = None
    ) -> None:
        rng = self.rng
        day = self.today - rng.randint(1, 20)
        method = rng.choices((RegistrationMethod.SELF, RegistrationMethod.QR), weights=(7, 3))[0]
        self.reg(
            member.pk,
            community_id,
            campaign.pk,
            RegistrationStatus.PENDING,
            method,
            _any_time(rng, day),
            submitted_by=user,
        )

    def rejected(
        self, member: Member, community_id: int, campaign: Campaign, day: int, admin: int | None = None
    ) -> None:
        rng = self.rng
        submitted = _any_time(rng, day - rng.randint(1, 3))
        decided = _office_time(rng, day)
        self.reg(
            member.pk,
            community_id,
            campaign.pk,
            RegistrationStatus.REJECTED,
            RegistrationMethod.SELF,
            submitted,
            decided=max(decided, submitted + 600),
            decided_by=admin,
            reject_reason=rng.choice(REJECT_REASONS),
        )

    def exemption(
        self, member: Member, *, valid_until: int, created: int, revoked: int | None = None
    ) -> None:
        rng = self.rng
        reason = rng.choices([r for r, _ in EXEMPTION_WEIGHTS], weights=[w for _, w in EXEMPTION_WEIGHTS])[0]
        self.exemptions.append(
            (
                member.pk,
                reason,
                rng.choice(EXEMPTION_NOTES[reason]),
                self.load.day(valid_until),
                None,
                self.load.ts(created),
                self.load.ts(revoked),
            )
        )

    def notify(
        self, member: Member, kind: str, title: str, body: str, link: str, created: int, read: int | None
    ) -> None:
        self.notifications.append(
            (
                member.pk,
                member.user_id,
                kind,
                title,
                body,
                link,
                self.load.ts(created),
                self.load.ts(read),
                "log",
                "",
            )
        )


def build_reporting(
    *,
    seed: int,
    scale: str,
    as_of: dt.date,
    members: list[Member],
    communities: list[Region],
    unit_ids: list[int],
    loader: Loader,
    lap,
) -> ReportWorld:
    """Write campaigns, registrations, exemptions, cards, notifications and unit changes."""
    campaign, previous = _campaigns(as_of)
    b = _Builder(
        seed=seed,
        scale=scale,
        as_of=as_of,
        members=members,
        communities=communities,
        unit_ids=unit_ids,
        loader=loader,
    )
    rng = b.rng
    users = {
        u.username: u
        for u in User.objects.filter(
            username__in=(
                "member",
                "member_2",
                "community_admin",
                "community_admin_2",
                "unit_admin",
                "unit_admin_2",
            )
        )
    }
    admin_of = {users[name].region_id: users[name].pk for name in ("community_admin", "community_admin_2")}
    by_user = {m.user_id: m for m in members if m.user_id}
    demo, demo_2 = by_user[users["member"].pk], by_user[users["member_2"].pk]

    today = b.today
    cur_first, cur_last = campaign.starts_on.toordinal(), today - 1
    prev_first, prev_last = previous.starts_on.toordinal(), previous.ends_on.toordinal()
    active = [m for m in members if m.status == MemberStatus.ACTIVE]

    # Fates forced for the demo: each demo community's queue holds a transfer, a non-resident and a few
    # residents' requests.
    forced: dict[int, tuple[str, int]] = {
        demo.pk: ("demo", demo.community_id),
        demo_2.pk: ("demo", demo_2.community_id),
    }
    for community_id in admin_of:
        residents = [m for m in active if m.community_id == community_id and m.pk not in forced]
        street = b.street_of[community_id]
        outsiders = [
            m
            for m in active
            if m.community_id != community_id
            and m.pk not in forced
            and b.street_of.get(m.community_id) == street
        ] or [m for m in active if m.community_id != community_id and m.pk not in forced]
        picks = rng.sample(residents, min(len(residents), 5))
        if picks:
            forced[picks[0].pk] = ("transfer_pending", community_id)
        for m in picks[1:]:
            forced[m.pk] = ("pending", community_id)
        if outsiders:
            forced[rng.choice(outsiders).pk] = ("pending", community_id)

    cards_for: list[Member] = []
    showcase = [0.14, 0.1, 0.01]  # values of ``r`` below: revoked, expired, rejected
    for m in active:
        home = m.community_id
        admin = admin_of.get(home)
        fate = forced.get(m.pk)
        if fate is not None:
            kind, target = fate
            if kind == "demo":
                if m.pk == demo.pk:  # reminded, then reported by phone in the current campaign
                    day = cur_first + 21
                    b.notify(
                        m,
                        REMINDER_KIND,
                        REMINDER_TITLE,
                        reminder_body(campaign),
                        reverse("members:me"),
                        _any_time(rng, day - 10),
                        _any_time(rng, day - 9),
                    )
                    b.confirmed(
                        m, home, campaign, day, method=RegistrationMethod.SELF, admin=admin, user=m.user_id
                    )
                    b.notify(
                        m,
                        "registration.confirmed",
                        "报到已确认",
                        f"{b.name_of[home]}已确认您的报到，欢迎参与社区服务。",
                        "",
                        _office_time(rng, day) + 60,
                        _any_time(rng, day + 1),
                    )
                else:  # registered at the office last year
                    day = _early_day(rng, prev_first, prev_first + 60)
                    b.confirmed(m, home, previous, day, method=RegistrationMethod.OFFICE, admin=admin)
                    b.notify(
                        m,
                        "registration.confirmed",
                        "报到已确认",
                        f"您已在{b.name_of[home]}完成报到。",
                        "",
                        _office_time(rng, day) + 60,
                        _any_time(rng, day + 2),
                    )
            elif kind == "transfer_pending":  # reported where they lived before; moved here
                old = b.neighbour(target)
                b.confirmed(m, old, previous, _early_day(rng, prev_first, prev_last))
                b.pending(m, target, campaign, user=m.user_id)
            else:
                b.pending(m, target, campaign, user=m.user_id)
            cards_for.append(m)
            continue

        roll = rng.random()
        if roll < CONFIRMED:
            where = b.neighbour(home) if rng.random() < ELSEWHERE else home
            if rng.random() < TRANSFERRED / CONFIRMED:
                old_day = _early_day(rng, prev_first, prev_last)
                new_day = _early_day(rng, cur_first, cur_last)
                b.ended(m, b.neighbour(where), previous, old_day, new_day, f"转至{b.name_of[where]}")
                b.confirmed(m, where, campaign, new_day, admin=admin_of.get(where))
            elif rng.random() < IN_PREVIOUS:
                b.confirmed(
                    m, where, previous, _early_day(rng, prev_first, prev_last), admin=admin_of.get(where)
                )
            else:
                day = _early_day(rng, cur_first, cur_last)
                if rng.random() < 0.012 and day > cur_first + 5:  # first tried the wrong community
                    b.rejected(m, b.neighbour(where), campaign, day - rng.randint(2, 5))
                elif rng.random() < 0.006 and day > cur_first + 5:  # changed their choice before an answer
                    submitted = _any_time(rng, day - rng.randint(3, 6))
                    b.reg(
                        m.pk,
                        b.neighbour(where),
                        campaign.pk,
                        RegistrationStatus.CANCELLED,
                        RegistrationMethod.SELF,
                        submitted,
                        decided=submitted + 86400,
                    )
                b.confirmed(m, where, campaign, day, admin=admin_of.get(where))
            if rng.random() < 0.004:  # an exemption that ran out, or was withdrawn, before they reported
                b.exemption(
                    m, valid_until=cur_first - rng.randint(1, 60), created=_any_time(rng, prev_first + 30)
                )
        elif roll < CONFIRMED + PENDING:
            if rng.random() < 0.1:
                b.rejected(m, b.neighbour(home), campaign, today - rng.randint(25, 90))
            b.pending(m, home, campaign)
        elif roll < CONFIRMED + PENDING + EXEMPT:
            created = _any_time(rng, _early_day(rng, cur_first, cur_last))
            b.exemption(m, valid_until=today + rng.randint(20, 320), created=created)
        else:  # outstanding: some were refused once, some had an exemption that expired or was revoked
            r = rng.random()
            if showcase:  # even the small city shows each case once
                r = showcase.pop()
            if r < 0.05:
                b.rejected(m, b.neighbour(home), campaign, _early_day(rng, cur_first + 10, cur_last))
            elif r < 0.12:
                b.exemption(m, valid_until=today - rng.randint(1, 90), created=_any_time(rng, cur_first + 5))
            elif r < 0.16:
                created = _any_time(rng, cur_first + rng.randint(5, 60))
                b.exemption(
                    m,
                    valid_until=today + rng.randint(30, 200),
                    created=created,
                    revoked=created + rng.randint(10, 90) * DAY,
                )
            if rng.random() < 0.45:  # the unit sent reminders
                for _ in range(rng.choice((1, 1, 2))):
                    sent = _office_time(rng, today - rng.randint(1, 30))
                    b.notify(
                        m,
                        REMINDER_KIND,
                        REMINDER_TITLE,
                        reminder_body(campaign),
                        reverse("members:me"),
                        sent,
                        sent + rng.randint(1, 48) * 3600 if rng.random() < 0.35 else None,
                    )
        if rng.random() < CARDS:
            cards_for.append(m)

    # Members who left: no open registration; some have an ended one.
    for m in members:
        if m.status != MemberStatus.LEFT or rng.random() < 0.4:
            continue
        left = m.left_on.toordinal()
        first = _early_day(rng, prev_first, min(prev_last, left - 1))
        if first < left:
            b.ended(m, m.community_id, previous, first, left, "离开单位")
    lap("registrations")

    loader.write(
        Registration,
        (
            "member_id",
            "community_id",
            "campaign_id",
            "status",
            "method",
            "submitted_at",
            "submitted_by_id",
            "decided_at",
            "decided_by_id",
            "reject_reason",
            "confirmed_on",
            "ended_on",
            "end_reason",
        ),
        b.registrations,
    )
    loader.write(
        Exemption,
        ("member_id", "reason", "note", "valid_until", "created_by_id", "created_at", "revoked_at"),
        b.exemptions,
    )
    cards = _cards(b, cards_for, demo, campaign)
    changes = _unit_changes(b, active, demo_2)
    loader.write(
        Notification,
        (
            "member_id",
            "user_id",
            "kind",
            "title",
            "body",
            "link",
            "created_at",
            "read_at",
            "delivered_via",
            "delivery_error",
        ),
        b.notifications,
    )
    lap("write registrations")
    return ReportWorld(
        as_of=as_of,
        anchor=b.anchor,
        campaign=campaign,
        previous=previous,
        members=members,
        communities=communities,
        registered=b.registered,
        users=users,
        admin_of=admin_of,
        demo_member=demo,
        demo_member_2=demo_2,
        counts={
            "registrations": len(b.registrations),
            "exemptions": len(b.exemptions),
            "cards": cards,
            "notifications": len(b.notifications),
            "unit_changes": changes,
        },
    )


def _cards(b: _Builder, members: list[Member], demo: Member, campaign: Campaign) -> int:
    """Cards issued unit by unit early in the campaign (most units printed theirs); the demo member lost one."""
    rng, ts = b.rng, b.load.ts
    start = campaign.starts_on.toordinal()
    batch: dict[int, tuple[int, bool]] = {}
    numbers: set[str] = set()
    rows = []

    def number() -> str:
        while True:
            n = f"{rng.randrange(10**8, 10**9):09d}"
            if n not in numbers:
                numbers.add(n)
                return n

    for m in members:
        if m.work_unit_id not in batch:
            batch[m.work_unit_id] = (_office_time(rng, start + rng.randint(0, 40)), rng.random() < 0.65)
        issued, printed = batch[m.work_unit_id]
        if m.pk == demo.pk:
            lost = issued + rng.randint(60, 120) * DAY
            rows.append(
                (
                    m.pk,
                    number(),
                    f"{rng.getrandbits(64):016x}",
                    False,
                    ts(issued),
                    ts(lost),
                    "遗失补办",
                    ts(issued + DAY),
                )
            )
            issued = lost + 600
        rows.append(
            (
                m.pk,
                number(),
                f"{rng.getrandbits(64):016x}",
                True,
                ts(issued),
                None,
                "",
                ts(issued + DAY) if printed else None,
            )
        )
    for m in b.members:  # cards of members who left were revoked
        if m.status == MemberStatus.LEFT and rng.random() < 0.5:
            issued = _office_time(rng, start + rng.randint(0, 40))
            revoked = max(issued + DAY, moment(m.left_on, 10))
            rows.append(
                (
                    m.pk,
                    number(),
                    f"{rng.getrandbits(64):016x}",
                    False,
                    ts(issued),
                    ts(revoked),
                    "离开单位",
                    None,
                )
            )
    b.load.write(
        ContactCard,
        (
            "member_id",
            "number",
            "nonce",
            "is_active",
            "issued_at",
            "revoked_at",
            "revoke_reason",
            "printed_at",
        ),
        rows,
    )
    return len(rows)


def _unit_changes(b: _Builder, active: list[Member], demo_2: Member) -> int:
    """A few members changed unit (moved, not re-created): their history names the unit they came from."""
    rng = b.rng
    movers = [m for m in active if rng.random() < 0.004]
    if demo_2 not in movers:
        movers.append(demo_2)
    rows = []
    for m in movers:
        other = rng.choice(b.unit_ids)
        if other == m.work_unit_id:
            continue
        rows.append((m.pk, other, m.work_unit_id, b.load.day(b.today - rng.randint(30, 900)), None))
    b.load.write(UnitChange, ("member_id", "from_unit_id", "to_unit_id", "changed_on", "changed_by_id"), rows)
    return len(rows)
