"""The URL crawler (pretix/healthchecks style): every URL pattern × every role.

- R13 function level: ``ROUTES`` says, per URL name and method, which roles may use it. Allowed
  roles get 2xx/3xx, the others 403 (a few routes answer 404 on purpose, e.g. reveal), anonymous
  users the login page. The test fails if a named URL pattern has no row.
- R14 object level: every route that takes an object (in the path or a scope id in the query) is
  requested by every role with the *other* side's object → 404 (or the function-level 403), no
  foreign names or canaries in the body, and for writes a snapshot of every table is unchanged.
- R15 lists and exports equal the scope selector's result.
- R11 CSRF on every POST route; GET routes change nothing but the audit log.
- R19 no full canary ID number or phone in any page or export, except the reveal and the full
  export for roles with ``view_sensitive``; R21 reveal audit and rate limit; R23 no canary in any URL
  generated or followed; R42 security headers on every HTML response.

Each request runs in a savepoint that is rolled back, so one world serves a whole role's crawl.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import pytest
from django.db import connection, transaction
from django.db.models import Max
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from openpyxl import load_workbook

from jinshequ.accounts.models import AuditEvent, Role
from jinshequ.imports.models import ImportJob
from jinshequ.members.models import Member
from jinshequ.members.selectors import member_list_for_user
from jinshequ.regions.selectors import region_list_for_user
from jinshequ.units.selectors import unit_list_for_user
from tests.factories import build_crawl_world
from tests.properties import examples
from tests.securitykit import canary_hits, table_snapshot, unmasked_runs

CITY, DISTRICT, STREET, COMMUNITY = "city_admin", "district_admin", "street_admin", "community_admin"
UNIT, INSPECTOR, MEMBER, ANON = "unit_admin", "inspector", "member", "anon"
ROLES = (CITY, DISTRICT, STREET, COMMUNITY, UNIT, INSPECTOR, MEMBER, ANON)
USERS = frozenset(ROLES) - {ANON}
STAFF = USERS - {MEMBER}


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


# Role sets, written out (the table is the specification; it is not derived from ROLE_PERMS).
REGION_VIEW = roles(CITY, DISTRICT, STREET, COMMUNITY, INSPECTOR)
REGION_MANAGE = roles(CITY, DISTRICT, STREET)
UNIT_VIEW = roles(CITY, DISTRICT, STREET, UNIT, INSPECTOR)
UNIT_MANAGE = roles(CITY, DISTRICT, UNIT)
UNIT_IMPORT = roles(CITY, DISTRICT)
MEMBER_VIEW = roles(CITY, DISTRICT, STREET, COMMUNITY, UNIT, INSPECTOR)
MEMBER_MANAGE = roles(CITY, DISTRICT, STREET, COMMUNITY, UNIT)
SENSITIVE = roles(CITY, COMMUNITY, UNIT)
CITY_ONLY = roles(CITY)
SELF = roles(MEMBER)
REVIEW = roles(COMMUNITY)
LEDGER = roles(CITY, DISTRICT, STREET, COMMUNITY, INSPECTOR)
ROSTER = roles(CITY, DISTRICT, STREET, UNIT, INSPECTOR)
STATS = roles(CITY, DISTRICT, STREET, COMMUNITY, UNIT, INSPECTOR)
UNIT_ONLY = roles(UNIT)
CARDS = roles(CITY, UNIT)
POSTER = roles(CITY, DISTRICT, STREET, COMMUNITY)  # community review, or region management
COMMUNITY_ONLY = roles(COMMUNITY)
COVERAGE = roles(CITY, DISTRICT, STREET, COMMUNITY, UNIT, INSPECTOR)
ORGANISER = roles(COMMUNITY, MEMBER)  # activities: the community admin, or a member leading the team


@dataclass
class Ctx:
    """What a route's builders may use: the world, the requesting user, and the side whose objects
    to use (the user's own side for R13, the other side for R14)."""

    world: object
    user: object
    role: str
    side_name: str

    @property
    def side(self):
        return getattr(self.world, self.side_name)

    def member(self, i=1):
        return self.side.members[i]


@dataclass(frozen=True)
class Route:
    name: str
    get: frozenset[str] | None = None  # roles that may GET (None: no GET)
    post: frozenset[str] | None = None  # roles that may POST (None: no POST)
    args: Callable[[Ctx], dict] | None = None  # path kwargs: an object of ctx.side
    query: Callable[[Ctx], dict] | None = None  # query string (scope ids of ctx.side)
    data: Callable[[Ctx], dict] | None = None  # POST body
    public: bool = False  # anonymous users may use it
    denied: int = 403  # what roles outside the set get
    binary: bool = False  # a download, not a page
    to_login: bool = False  # allowed roles are sent to the login page (logout)
    full_values_for: frozenset[str] = frozenset()  # roles this route may show full ID numbers or phones
    # R14: whether the route refers to scoped objects (default: it has args or a query), and what an
    # allowed role gets for the other side's objects (default 404; a batch may skip them instead).
    cross_scope: bool | None = None
    cross_status: frozenset[int] = frozenset({404})

    @property
    def scoped(self) -> bool:
        if self.cross_scope is not None:
            return self.cross_scope
        return self.args is not None or self.query is not None


def _pk(obj) -> dict:
    return {"pk": obj.pk}


def _import_job(ctx: Ctx) -> dict:
    job = ImportJob.objects.create(
        kind=ImportJob.Kind.MEMBERS,
        status=ImportJob.Status.READY,
        created_by=_side_user(ctx),
        file_name="党员.xlsx",
        total_rows=2,
        valid_rows=1,
        error_rows=1,
        errors=[{"row": 3, "column": "姓名", "value": "", "message": "请填写姓名。"}],
    )
    return {"pk": job.pk}


def _side_user(ctx: Ctx):
    """The user of ctx.role on ctx.side (ctx.user itself on its own side)."""
    if ctx.role in (ANON, CITY):
        return ctx.user if ctx.role == CITY else None
    return ctx.side.users[ctx.role]


def _member_form(ctx: Ctx) -> dict:
    m = ctx.member()
    return {
        "name": m.name,
        "id_number": "",
        "phone": "",
        "work_unit": m.work_unit_id,
        "community": m.community_id,
        "party_status": m.party_status,
        "avail_weekend": "on",
    }


def _card_number(ctx: Ctx) -> dict:
    from jinshequ.members.reporting import card_for_member

    return {"code": card_for_member(ctx.member()).number, "action": "lookup"}


def _community_token(ctx: Ctx) -> dict:
    from jinshequ.members.reporting import community_token

    return {"token": community_token(_elsewhere(ctx))}


def _stats_members_query(ctx: Ctx) -> dict:
    return {"unit": ctx.side.unit.pk} if ctx.role == UNIT else {"region": ctx.side.community.pk}


def _roster_query(ctx: Ctx) -> dict:
    return {"unit": ctx.side.extra["subunit"].pk}


def _elsewhere(ctx: Ctx):
    """A community where the side's member has no pending report-in: report-in is open to every
    community, so this is not a scoped object."""
    return ctx.world.b.community if ctx.side_name == "a" else ctx.world.a.community


def _ledger_query(ctx: Ctx) -> dict:
    return {"community": ctx.side.community.pk}


def _checkin_token(ctx: Ctx) -> dict:
    from jinshequ.activities.services import checkin_token

    return {"token": checkin_token(ctx.side.extra["activity"], "in")}


def _activity_card(ctx: Ctx) -> dict:
    """Member 0's card (signed up for the side's activity), scanned for check-in."""
    from jinshequ.members.reporting import card_for_member

    return {"code": card_for_member(ctx.member(0)).number, "mode": "in"}


ROUTES: list[Route] = [
    Route("home", get=USERS),
    Route("healthz", get=USERS, public=True),
    Route("set_language", post=USERS, public=True, data=lambda c: {"language": "zh-hans", "next": "/"}),
    Route(
        "accounts:login",
        get=USERS,
        post=USERS,
        public=True,
        data=lambda c: {"username": "nobody", "password": "Wrong-Passw0rd!"},
    ),
    Route("accounts:logout", post=USERS, to_login=True),
    Route("accounts:password_change", get=USERS, post=USERS),
    Route("accounts:audit_list", get=CITY_ONLY),
    # regions
    Route("regions:list", get=REGION_VIEW),
    Route(
        "regions:create", get=REGION_MANAGE, post=REGION_MANAGE, query=lambda c: {"parent": c.side.street.pk}
    ),
    Route("regions:detail", get=REGION_VIEW, args=lambda c: _pk(c.side.community)),
    Route(
        "regions:edit",
        get=REGION_MANAGE,
        post=REGION_MANAGE,
        args=lambda c: _pk(c.side.community),
        data=lambda c: {"name": c.side.community.name, "kind": "community", "parent": c.side.street.pk},
    ),
    Route(
        "regions:set_active",
        post=REGION_MANAGE,
        args=lambda c: _pk(c.side.community),
        data=lambda c: {"active": "1"},
    ),
    # units
    Route("units:list", get=UNIT_VIEW),
    Route(
        "units:create",
        get=UNIT_MANAGE,
        post=UNIT_MANAGE,
        query=lambda c: {"parent": c.side.extra["subunit"].pk},
    ),
    Route("units:import", get=UNIT_IMPORT, post=UNIT_IMPORT),
    Route("units:detail", get=UNIT_VIEW, args=lambda c: _pk(c.side.extra["subunit"])),
    Route(
        "units:edit",
        get=UNIT_MANAGE,
        post=UNIT_MANAGE,
        args=lambda c: _pk(c.side.extra["subunit"]),
        data=lambda c: {
            "name": c.side.extra["subunit"].name,
            "kind": "other",
            "parent": c.side.unit.pk,
            "region": c.side.district.pk,
        },
    ),
    Route(
        "units:set_active",
        post=UNIT_MANAGE,
        args=lambda c: _pk(c.side.extra["subunit"]),
        data=lambda c: {"active": "1"},
    ),
    # members
    Route("members:list", get=MEMBER_VIEW),
    Route("members:export", get=MEMBER_MANAGE, binary=True),
    Route("members:lookup", post=MEMBER_VIEW, data=lambda c: {"value": c.member().reveal_phone()}),
    Route("members:choices", get=MEMBER_VIEW, args=lambda c: {"kind": "community"}, cross_scope=False),
    Route("members:create", get=MEMBER_MANAGE, post=MEMBER_MANAGE),
    Route("members:me", get=SELF),
    Route("members:skills", get=CITY_ONLY, post=CITY_ONLY),
    Route("members:detail", get=MEMBER_VIEW, args=lambda c: _pk(c.member())),
    Route(
        "members:edit",
        get=MEMBER_MANAGE,
        post=MEMBER_MANAGE,
        args=lambda c: _pk(c.member()),
        data=_member_form,
    ),
    Route(
        "members:set_status",
        post=MEMBER_MANAGE,
        args=lambda c: _pk(c.member()),
        data=lambda c: {"action": "reactivate"},
    ),
    Route(
        "members:reveal",
        post=SENSITIVE,
        args=lambda c: _pk(c.member()),
        denied=404,
        full_values_for=SENSITIVE,
        data=lambda c: {"field": "phone", "reason": "核对报到信息"},
    ),
    Route(
        "members:move",
        post=MEMBER_MANAGE,
        args=lambda c: _pk(c.member()),
        data=lambda c: {"work_unit_name": c.side.unit.name},
    ),
    Route("members:merge", get=CITY_ONLY, post=CITY_ONLY, args=lambda c: _pk(c.member())),
    Route("members:import", get=MEMBER_MANAGE, post=MEMBER_MANAGE),
    Route("imports:template", get=MEMBER_MANAGE, binary=True),
    Route("imports:detail", get=MEMBER_MANAGE, args=_import_job),
    Route("imports:confirm", post=MEMBER_MANAGE, args=_import_job, data=lambda c: {"mode": "all"}),
    Route("imports:errors", get=MEMBER_MANAGE, args=_import_job, binary=True),
    # report-in: the member's side
    Route("report:start", get=SELF, post=SELF, data=lambda c: {"community": _elsewhere(c).pk}),
    Route("report:qr", get=SELF, post=SELF, args=_community_token, cross_scope=False),
    Route("report:card", get=SELF),
    Route("report:history", get=SELF),
    Route("report:inbox", get=SELF, post=SELF),
    Route("report:cancel", post=SELF, args=lambda c: _pk(c.side.extra["own_pending"])),
    # report-in: the community's side
    Route("report:pending", get=REVIEW),
    Route(
        "report:confirm_batch",
        post=REVIEW,
        data=lambda c: {"ids": [c.side.extra["pending"].pk]},
        cross_scope=True,
        cross_status=frozenset({302}),
    ),
    Route("report:confirm", post=REVIEW, args=lambda c: _pk(c.side.extra["pending"])),
    Route(
        "report:reject",
        post=REVIEW,
        args=lambda c: _pk(c.side.extra["pending"]),
        data=lambda c: {"reason": "不在本社区居住"},
    ),
    Route("report:office", get=REVIEW, post=REVIEW, data=_card_number),
    Route("report:poster", get=REVIEW),
    Route("report:ledger", get=LEDGER, query=_ledger_query),
    Route("report:ledger_export", get=LEDGER, query=_ledger_query, binary=True),
    Route("report:ledger_print", get=LEDGER, query=_ledger_query),
    # unit roster
    Route("roster:unit", get=ROSTER, query=_roster_query),
    Route("roster:outstanding_xlsx", get=ROSTER, query=_roster_query, binary=True),
    Route("roster:remind", post=UNIT_ONLY, data=lambda c: {"unit": c.side.unit.pk}, cross_scope=True),
    Route("roster:exempt", get=UNIT_ONLY, post=UNIT_ONLY, args=lambda c: _pk(c.member())),
    Route("roster:exemption_revoke", post=UNIT_ONLY, args=lambda c: _pk(c.side.extra["exemption"])),
    Route("roster:inbox", get=SELF, post=SELF),
    # campaigns and statistics
    Route("campaigns:list", get=CITY_ONLY),
    Route("campaigns:create", get=CITY_ONLY, post=CITY_ONLY),
    Route("campaigns:edit", get=CITY_ONLY, post=CITY_ONLY, args=lambda c: _pk(c.world.campaign)),
    Route("campaigns:set_current", post=CITY_ONLY, args=lambda c: _pk(c.world.campaign)),
    Route("stats:registration", get=STATS),
    Route("stats:registration_members", get=STATS, query=_stats_members_query),
    # contact cards and receipts (PDFs: rendered as HTML in the crawl, see ``fast_pdf``)
    Route("cards:unit", get=CARDS, query=_roster_query),
    Route("cards:unit_pdf", post=CARDS, args=lambda c: {"unit_id": c.side.unit.pk}, binary=True),
    Route("cards:member_pdf", post=CARDS, args=lambda c: {"member_id": c.member().pk}, binary=True),
    Route(
        "cards:reissue",
        post=CARDS,
        args=lambda c: {"member_id": c.member().pk},
        data=lambda c: {"reason": "遗失"},
    ),
    Route("cards:receipts", get=ROSTER, query=_roster_query),
    Route("cards:receipt_pdf", get=ROSTER, args=lambda c: {"member_id": c.member(0).pk}, binary=True),
    Route(
        "cards:receipts_unit_pdf",
        get=ROSTER,
        args=lambda c: {"unit_id": c.side.extra["subunit"].pk},
        binary=True,
    ),
    Route("cards:poster_pdf", get=POSTER, args=lambda c: {"community_id": c.side.community.pk}, binary=True),
    # posts, teams and households: the member
    Route("posts:list", get=SELF),
    Route("posts:detail", get=SELF, args=lambda c: _pk(c.side.extra["post"])),
    Route("posts:claim", post=SELF, args=lambda c: _pk(c.side.extra["post"])),
    Route(
        "posts:withdraw",
        post=SELF,
        args=lambda c: _pk(c.side.extra["claim"]),
        data=lambda c: {"reason": "时间冲突"},
    ),
    Route("posts:teams", get=SELF),
    Route("posts:team_join", post=SELF, args=lambda c: _pk(c.side.extra["team"])),
    Route("posts:team_leave", post=SELF, args=lambda c: _pk(c.side.extra["team"])),
    Route("posts:my_households", get=SELF),
    Route("posts:my_household", get=SELF, args=lambda c: _pk(c.side.extra["household"])),
    Route(
        "posts:household_reveal",
        post=roles(COMMUNITY, MEMBER),
        args=lambda c: _pk(c.side.extra["household"]),
        full_values_for=roles(COMMUNITY, MEMBER),
    ),
    # posts, teams and households: the community admin
    Route("posts:manage", get=COMMUNITY_ONLY),
    Route("posts:settings", post=COMMUNITY_ONLY, data=lambda c: {"auto_approve_claims": ""}),
    Route("posts:create", get=COMMUNITY_ONLY, post=COMMUNITY_ONLY),
    Route("posts:manage_detail", get=COMMUNITY_ONLY, args=lambda c: _pk(c.side.extra["post"])),
    Route("posts:edit", get=COMMUNITY_ONLY, post=COMMUNITY_ONLY, args=lambda c: _pk(c.side.extra["post"])),
    Route(
        "posts:deactivate",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["post"]),
        data=lambda c: {"reason": "暂停"},
    ),
    Route("posts:activate", post=COMMUNITY_ONLY, args=lambda c: _pk(c.side.extra["post"])),
    Route("posts:claims", get=COMMUNITY_ONLY),
    Route("posts:approve", post=COMMUNITY_ONLY, args=lambda c: _pk(c.side.extra["claim"])),
    Route(
        "posts:reject",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["claim"]),
        data=lambda c: {"reason": "名额已满"},
    ),
    Route(
        "posts:end",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["claim"]),
        data=lambda c: {"reason": "期满"},
    ),
    Route("posts:manage_teams", get=COMMUNITY_ONLY, post=COMMUNITY_ONLY),
    Route(
        "posts:manage_team", get=COMMUNITY_ONLY, post=COMMUNITY_ONLY, args=lambda c: _pk(c.side.extra["team"])
    ),
    Route(
        "posts:team_action",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["team"]),
        data=lambda c: {"action": "deactivate"},
    ),
    Route("posts:households", get=COMMUNITY_ONLY, post=COMMUNITY_ONLY),
    Route(
        "posts:household",
        get=COMMUNITY_ONLY,
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["household"]),
    ),
    Route(
        "posts:household_active",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["household"]),
        data=lambda c: {"active": "1"},
    ),
    Route(
        "posts:pair",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["household"]),
        data=lambda c: {"member": c.member(1).pk},
    ),
    Route(
        "posts:pairing_end",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["pairing"]),
        data=lambda c: {"reason": "已脱困"},
    ),
    # posts: the city catalogue and coverage
    Route("posts:categories", get=CITY_ONLY, post=CITY_ONLY),
    Route("posts:coverage", get=COVERAGE),
    Route("posts:coverage_units", get=COVERAGE),
    Route("posts:coverage_missing", get=COVERAGE),
    Route("posts:coverage_export", get=COVERAGE, binary=True),
    # activities: the member (the crawl world's member 0 is signed up, and leads the side's team)
    Route("activities:list", get=SELF),
    Route("activities:detail", get=SELF, args=lambda c: _pk(c.side.extra["activity"])),
    Route("activities:signup", post=SELF, args=lambda c: _pk(c.side.extra["activity"])),
    Route("activities:cancel", post=SELF, args=lambda c: _pk(c.side.extra["activity"])),
    Route("activities:calendar", get=SELF, binary=True),
    Route("activities:checkin", get=SELF, post=SELF, args=_checkin_token),
    # activities: organisers (the community admin; a team leader for the team's activities)
    Route("activities:manage", get=ORGANISER),
    Route("activities:create", get=ORGANISER, post=ORGANISER),
    Route("activities:manage_detail", get=ORGANISER, args=lambda c: _pk(c.side.extra["activity"])),
    Route("activities:edit", get=ORGANISER, post=ORGANISER, args=lambda c: _pk(c.side.extra["activity"])),
    Route(
        "activities:activity_cancel",
        post=ORGANISER,
        args=lambda c: _pk(c.side.extra["activity"]),
        data=lambda c: {"reason": "天气原因"},
    ),
    Route("activities:screen", get=ORGANISER, args=lambda c: _pk(c.side.extra["activity"])),
    Route("activities:screen_code", get=ORGANISER, args=lambda c: _pk(c.side.extra["activity"])),
    Route(
        "activities:scan",
        get=ORGANISER,
        post=ORGANISER,
        args=lambda c: _pk(c.side.extra["activity"]),
        data=_activity_card,
    ),
    Route(
        "activities:confirm",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(c.side.extra["signup"]),
        data=lambda c: {"hours": "1.5"},
    ),
    Route("activities:no_shows", get=COMMUNITY_ONLY),
    # service records, work manuals and certificates (records helper)
    Route("records:mine", get=SELF),
    Route("records:create", get=SELF, post=SELF, data=lambda c: _rec_form(c)),
    Route(
        "records:detail", get=roles(MEMBER, COMMUNITY, UNIT, INSPECTOR), args=lambda c: _pk(_rec_record(c))
    ),
    Route(
        "records:photo",
        get=roles(MEMBER, COMMUNITY, UNIT, INSPECTOR),
        args=lambda c: _pk(_rec_record(c)),
        binary=True,
    ),
    Route("records:resident_code", post=SELF, args=lambda c: _pk(_rec_record(c))),
    Route(
        "records:confirm",
        get=USERS,
        post=USERS,
        public=True,
        args=lambda c: _rec_resident_token(c),
        cross_scope=False,
        data=lambda c: {"code": "123456", "rating": "satisfied"},
    ),
    Route("records:queue", get=COMMUNITY_ONLY),
    Route(
        "records:verify_batch",
        post=COMMUNITY_ONLY,
        data=lambda c: {"ids": [_rec_record(c).pk]},
        cross_scope=True,
        cross_status=frozenset({302}),
    ),
    Route("records:verify", post=COMMUNITY_ONLY, args=lambda c: _pk(_rec_record(c))),
    Route(
        "records:reject",
        post=COMMUNITY_ONLY,
        args=lambda c: _pk(_rec_record(c)),
        data=lambda c: {"reason": "时长与安排不符"},
    ),
    Route("records:list", get=roles(COMMUNITY, UNIT, INSPECTOR)),
    Route("records:manuals", get=roles(COMMUNITY, UNIT, INSPECTOR)),
    Route("records:my_manual", get=SELF),
    Route(
        "records:manual",
        get=roles(MEMBER, COMMUNITY, UNIT, INSPECTOR),
        args=lambda c: {"member_id": c.member(0).pk},
    ),
    Route(
        "records:manual_pdf",
        get=roles(MEMBER, COMMUNITY, UNIT, INSPECTOR),
        args=lambda c: {"member_id": c.member(0).pk},
        binary=True,
    ),
    Route(
        "records:manual_more",
        get=roles(MEMBER, COMMUNITY, UNIT, INSPECTOR),
        args=lambda c: {"member_id": c.member(0).pk, "section": "records"},
    ),
    Route(
        "records:certificates",
        get=roles(MEMBER, COMMUNITY, UNIT),
        post=roles(MEMBER, COMMUNITY, UNIT),
        args=lambda c: {"member_id": c.member(0).pk},
        data=lambda c: {"period_start": "2020-01-01", "period_end": timezone.localdate().isoformat()},
    ),
    Route(
        "records:certificate_pdf",
        get=roles(MEMBER, COMMUNITY, UNIT),
        args=lambda c: _pk(_rec_certificate(c)),
        binary=True,
    ),
    Route(
        "records:certificate_revoke",
        post=roles(COMMUNITY, UNIT),
        args=lambda c: _pk(_rec_certificate(c)),
        data=lambda c: {"reason": "信息有误"},
    ),
    Route(
        "records:certificate_check",
        get=USERS,
        public=True,
        args=lambda c: _rec_certificate_token(c),
        cross_scope=False,
    ),
    # checklists: 四个一 / 十个有 (issue 4)
    Route(
        "supervision:overview",
        get=roles(CITY, DISTRICT, STREET, COMMUNITY, INSPECTOR),
        query=lambda c: _checklist_region(c),
    ),
    Route(
        "supervision:overview_units",
        get=roles(CITY, DISTRICT, STREET, COMMUNITY, UNIT, INSPECTOR),
        query=lambda c: {"unit": c.side.unit.pk},
    ),
    Route("supervision:me", get=SELF),
    Route(
        "supervision:items",
        get=CITY_ONLY,
        post=CITY_ONLY,
        data=lambda c: {"campaign": c.world.campaign.pk, "scope": "member", "member-title": "爬虫事项"},
    ),
    Route("supervision:defaults", post=CITY_ONLY, data=lambda c: {"campaign": c.world.campaign.pk}),
    Route(
        "supervision:item_edit",
        get=CITY_ONLY,
        post=CITY_ONLY,
        args=lambda c: _pk(_checklist_item(c, "有公示栏")),
        data=lambda c: {"title": "有公示栏", "rule": ""},
        cross_scope=False,
    ),
    Route(
        "supervision:item_move",
        post=CITY_ONLY,
        args=lambda c: _pk(_checklist_item(c, "有公示栏")),
        data=lambda c: {"direction": "down"},
        cross_scope=False,
    ),
    Route(
        "supervision:item_delete",
        post=CITY_ONLY,
        args=lambda c: _pk(_checklist_item(c, "有公示栏")),
        cross_scope=False,
    ),
    Route(
        "supervision:community",
        get=roles(CITY, DISTRICT, STREET, COMMUNITY, INSPECTOR),
        args=lambda c: _pk(c.side.community),
    ),
    Route(
        "supervision:community_mark",
        post=roles(COMMUNITY, STREET),
        args=lambda c: _pk(c.side.community),
        data=lambda c: {
            "item": _checklist_item(c, "有公示栏").pk,
            "action": "mark",
            "note": "社区门口公示栏",
        },
    ),
    Route(
        "supervision:members",
        get=roles(CITY, DISTRICT, STREET, COMMUNITY, UNIT, INSPECTOR),
        query=lambda c: {"unit": c.side.unit.pk} if c.role == UNIT else {"region": c.side.community.pk},
    ),
    Route(
        "supervision:member",
        get=roles(CITY, DISTRICT, STREET, COMMUNITY, UNIT, INSPECTOR),
        args=lambda c: _pk(c.member(0)),
    ),
    Route(
        "supervision:member_mark",
        post=roles(COMMUNITY, UNIT),
        args=lambda c: _pk(c.member(0)),
        data=lambda c: {
            "item": _checklist_item(c, "提出一条建议").pk,
            "action": "mark",
            "note": "建议增设快递柜",
        },
    ),
]
ROUTE_BY_NAME = {r.name: r for r in ROUTES}


# --- helpers ---------------------------------------------------------------------------------


def all_url_names() -> set[str]:
    def walk(resolver, ns):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                inner = ":".join(x for x in (ns, p.namespace) if x) if p.namespace else ns
                yield from walk(p, inner)
            elif isinstance(p, URLPattern):
                yield ":".join(x for x in (ns, p.name or f"<unnamed {p.pattern}>") if x)

    return set(walk(get_resolver(), ""))


@dataclass
class Crawl:
    """Problems found and every URL seen, for one role."""

    problems: list[str] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)

    def fail(self, message: str) -> None:
        self.problems.append(message)


def user_for(world, role: str, side: str = "a"):
    if role == ANON:
        return None
    if role == CITY:
        return world.city_admin
    return getattr(world, side).users[role]


def client_for(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def build_url(route: Route, ctx: Ctx) -> tuple[str, dict]:
    kwargs = route.args(ctx) if route.args else None
    url = reverse(route.name, kwargs=kwargs)
    query = route.query(ctx) if route.query else {}
    return url, query


def request(client: Client, method: str, url: str, query: dict, data: dict | None):
    full = f"{url}?{urlencode(query, doseq=True)}" if query else url
    if method == "get":
        return full, client.get(full)
    return full, client.post(full, data or {})


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def export_text(response) -> str:
    """All cell values of an xlsx download (or the text of anything else)."""
    raw = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    if raw[:4] == b"PK\x03\x04":
        book = load_workbook(io.BytesIO(raw), read_only=True)
        return "\n".join(
            "\t".join("" if v is None else str(v) for v in row)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
        )
    return raw.decode("utf-8", "replace")


LINK = re.compile(r"""(?:href|action|hx-get|hx-post|src)=["']([^"']+)["']""")


def check_headers(response, where: str, crawl: Crawl) -> None:
    if not response.get("Content-Type", "").startswith("text/html"):
        return
    csp = response.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    for name in ("object-src", "base-uri", "frame-ancestors"):
        if directives.get(name) != f"{name} 'none'":
            crawl.fail(f"{where}: CSP {name} is {directives.get(name)!r}")
    script = directives.get("script-src", directives.get("default-src", ""))
    if not script or "'unsafe-inline'" in script or "'unsafe-eval'" in script:
        crawl.fail(f"{where}: CSP script-src {script!r}")
    if response.get("X-Content-Type-Options") != "nosniff":
        crawl.fail(f"{where}: X-Content-Type-Options missing")
    if not response.get("Referrer-Policy"):
        crawl.fail(f"{where}: Referrer-Policy missing")


def record_urls(full: str, response, text: str, crawl: Crawl) -> None:
    crawl.urls.add(full)
    if response.get("Location"):
        crawl.urls.add(response["Location"])
    if response.get("HX-Redirect"):
        crawl.urls.add(response["HX-Redirect"])
    if response.get("Content-Type", "").startswith("text/html"):
        crawl.urls.update(LINK.findall(text))


def expected_ok(status: int, response, method: str = "get") -> bool:
    """2xx/3xx (not to the login page); for a POST also 400/409: the function was reached and refused
    the input (a domain rule), which is not an access decision."""
    if 200 <= status < 300 or (method == "post" and status in (400, 409)):
        return True
    return 300 <= status < 400 and not response.get("Location", "").startswith("/accounts/login/")


def savepoint():
    """A savepoint rolled back on exit: each request sees the same world."""

    class _Rollback:
        def __enter__(self):
            self._atomic = transaction.atomic()
            self._atomic.__enter__()

        def __exit__(self, *exc):
            transaction.set_rollback(True)
            self._atomic.__exit__(*exc)
            return False

    return _Rollback()


WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)


def tables_written(queries, ignore=("django_session",)) -> set[str]:
    """Tables an INSERT, UPDATE or DELETE touched during a request (SAVEPOINTs and reads excluded)."""
    out = set()
    for q in queries:
        m = WRITE.match(q["sql"])
        if m and m.group(1) not in ignore:
            out.add(m.group(1))
    return out


def snapshot_without_audit() -> dict:
    snap = table_snapshot()
    snap.pop("accounts.AuditEvent", None)
    return snap


def may_see_full_values(role: str, route: Route, query: dict) -> bool:
    return role in route.full_values_for or (role in SENSITIVE and query.get("full") == "1")


# --- R13: the matrix covers every URL ---------------------------------------------------------


def test_every_named_url_is_in_the_matrix():
    names = all_url_names()
    missing = sorted(n for n in names if n not in ROUTE_BY_NAME)
    stale = sorted(n for n in ROUTE_BY_NAME if n not in names)
    unnamed = sorted(n for n in names if "<unnamed" in n)
    assert not missing, f"URL patterns without a row in tests/test_access_matrix.py ROUTES: {missing}"
    assert not stale, f"ROUTES rows for URL names that no longer exist: {stale}"
    assert not unnamed, f"unnamed URL patterns (give them a name): {unnamed}"
    assert len(ROUTES) == len(ROUTE_BY_NAME), "duplicate rows in ROUTES"


# --- R13 function level, plus R19/R23/R42 on every response ------------------------------------


@pytest.fixture
def crawl_world(db, monkeypatch):
    """The crawl world; PDFs are rendered as their HTML (access and scope are decided before
    rendering, WeasyPrint would only cost seconds, and the HTML can be searched for canaries)."""
    from django.template.loader import render_to_string

    def fast_pdf(template, context=None):
        return render_to_string(template, context or {}).encode()

    monkeypatch.setattr("jinshequ.members.views_cards.render_pdf", fast_pdf)
    monkeypatch.setattr("jinshequ.activities.views_records.render_pdf", fast_pdf)
    return build_crawl_world()


def crawl_role(world, role: str) -> Crawl:
    crawl = Crawl()
    user = user_for(world, role)
    for route in ROUTES:
        for method, allowed in (("get", route.get), ("post", route.post)):
            if allowed is None:
                continue
            with savepoint():
                ctx = Ctx(world, user, role, "a")
                url, query = build_url(route, ctx)
                data = route.data(ctx) if (method == "post" and route.data) else None
                full, response = request(client_for(user), method, url, query, data)
                where = f"{role} {method.upper()} {route.name} {full}"
                status = response.status_code
                text = export_text(response) if route.binary and status == 200 else body_of(response)
            if status >= 500:
                crawl.fail(f"{where}: {status}")
            elif role == ANON and not route.public:
                if not (status == 302 and response["Location"].startswith("/accounts/login/")):
                    crawl.fail(f"{where}: anonymous got {status}, not the login redirect")
            elif role in allowed or (role == ANON and route.public):
                if route.to_login and status == 302 and response["Location"].startswith("/accounts/login/"):
                    pass
                elif not expected_ok(status, response, method):
                    crawl.fail(f"{where}: allowed role got {status} {response.get('Location', '')}")
            elif status != route.denied:
                crawl.fail(f"{where}: expected {route.denied}, got {status}")
            check_headers(response, where, crawl)
            record_urls(full, response, text, crawl)
            if not may_see_full_values(role, route, query):
                leaked = canary_hits(text) | unmasked_runs(text)
                if leaked:
                    crawl.fail(f"{where}: full ID number or phone in the response: {sorted(leaked)[:3]}")
    return crawl


@pytest.mark.parametrize("role", ROLES)
def test_function_level_access_and_response_hygiene(crawl_world, role):
    crawl = crawl_role(crawl_world, role)
    url_leaks = sorted(u for u in crawl.urls if canary_hits(u))
    if url_leaks:
        crawl.fail(f"personal data in URLs: {url_leaks[:5]}")
    assert not crawl.problems, "\n".join(crawl.problems)


def test_get_to_a_post_only_route_is_405(crawl_world):
    """A GET never performs an action: POST-only routes answer 405 to it (R11). (Read-only pages
    that also accept a POST are not flagged: that POST only reads, and the CSRF check still runs.)
    Django's own ``set_language`` redirects on GET without changing anything."""
    problems = []
    for route in ROUTES:
        if route.get is not None or route.name == "set_language":
            continue
        role = CITY if CITY in route.post else sorted(route.post - {ANON})[0]
        user = user_for(crawl_world, role)
        with savepoint():
            ctx = Ctx(crawl_world, user, role, "a")
            url, query = build_url(route, ctx)
            full, response = request(client_for(user), "get", url, query, None)
        if response.status_code != 405:
            problems.append(f"{role} GET {route.name}: {response.status_code}, expected 405")
    assert not problems, "\n".join(problems)


# --- R14: the other side's objects --------------------------------------------------------------


def foreign_names(world, side: str) -> set[str]:
    return {m.name for m in getattr(world, side).members}


@pytest.mark.parametrize("role", sorted(USERS - {CITY}))
def test_other_sides_objects_are_404_and_unchanged(crawl_world, role):
    """Side a's user asks for side b's objects. Nothing may change: each request is watched for
    write statements, and a full snapshot of every table is compared before and after the crawl."""
    problems = []
    user = user_for(crawl_world, role, "a")
    names_b = foreign_names(crawl_world, "b")
    plan = []
    for route in ROUTES:
        if not route.scoped:
            continue
        for method, allowed in (("get", route.get), ("post", route.post)):
            if allowed is not None:
                ctx = Ctx(crawl_world, user, role, "b")
                url, query = build_url(route, ctx)  # may create the object (an import job)
                data = route.data(ctx) if (method == "post" and route.data) else None
                plan.append((route, method, allowed, url, query, data))
    client = client_for(user)
    client.get("/healthz")  # the session's first request writes its timestamps; not part of the crawl
    before = snapshot_without_audit()
    audit_before = AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0
    for route, method, allowed, url, query, data in plan:
        with CaptureQueriesContext(connection) as queries:
            full, response = request(client, method, url, query, data)
            text = body_of(response)
        where = f"{role} {method.upper()} {route.name} {full}"
        status = response.status_code
        expected = set(route.cross_status) if role in allowed else {route.denied, 404}
        if status not in expected:
            problems.append(f"{where}: other side's object gave {status}, expected {sorted(expected)}")
        leaked = {n for n in names_b if n in text} | canary_hits(text)
        if leaked:
            problems.append(f"{where}: the other side's data in the body: {sorted(leaked)}")
        written = tables_written(queries.captured_queries) - {"accounts_auditevent"}
        if written:
            problems.append(f"{where}: wrote to {sorted(written)}")
    after = snapshot_without_audit()
    if before != after:
        problems.append(
            f"tables changed by the crawl: {sorted(k for k in before if before[k] != after.get(k))}"
        )
    succeeded = list(
        AuditEvent.objects.filter(pk__gt=audit_before, success=True).values_list("event", flat=True)
    )
    if succeeded:
        problems.append(f"successful audit rows written by refused requests: {succeeded}")
    assert not problems, "\n".join(problems)


# --- R11: CSRF and side-effect-free GETs --------------------------------------------------------


@pytest.mark.parametrize("role", [CITY, COMMUNITY, UNIT, MEMBER])
def test_every_post_route_needs_a_csrf_token(crawl_world, role):
    problems = []
    user = user_for(crawl_world, role)
    plan = []
    for route in ROUTES:
        if route.post is not None and (role in route.post or route.public):
            ctx = Ctx(crawl_world, user, role, "a")
            url, query = build_url(route, ctx)
            plan.append((route, url, query, route.data(ctx) if route.data else {}))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/healthz")
    before = table_snapshot()
    for route, url, query, data in plan:
        with CaptureQueriesContext(connection) as queries:
            full, response = request(client, "post", url, query, data)
        if response.status_code != 403:
            problems.append(f"{role} POST {route.name}: {response.status_code} without a CSRF token")
        written = tables_written(queries.captured_queries)
        if written:
            problems.append(f"{role} POST {route.name}: wrote to {sorted(written)} without a CSRF token")
    after = table_snapshot()
    if before != after:
        problems.append(f"tables changed: {sorted(k for k in before if before[k] != after[k])}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", sorted(USERS))
def test_get_requests_change_nothing_but_the_audit_log(crawl_world, role):
    """R11: crawling every GET route changes no table (the audit log records views and exports)."""
    user = user_for(crawl_world, role)
    problems = []
    plan = []
    for route in ROUTES:
        if route.get is not None and role in route.get:
            url, query = build_url(route, Ctx(crawl_world, user, role, "a"))
            plan.append((route, url, query))
    client = client_for(user)
    client.get("/healthz")
    before = snapshot_without_audit()
    for _route, url, query in plan:
        with CaptureQueriesContext(connection) as queries:
            full, response = request(client, "get", url, query, None)
            body_of(response)
        written = tables_written(queries.captured_queries) - {"accounts_auditevent"}
        if written:
            problems.append(f"{role} GET {full}: wrote to {sorted(written)}")
    after = snapshot_without_audit()
    if before != after:
        problems.append(f"tables changed: {sorted(k for k in before if before[k] != after[k])}")
    assert not problems, "\n".join(problems)


# --- R15: lists and exports equal the selector -------------------------------------------------


def linked_ids(text: str, prefix: str) -> set[int]:
    """Ids of the objects a page links to, e.g. ``/members/12/`` (its detail page)."""
    return {int(x) for x in re.findall(rf'href="{prefix}(\d+)/"', text)}


@pytest.mark.parametrize("role", sorted(MEMBER_VIEW))
def test_member_list_and_export_equal_the_selector(crawl_world, role):
    user = user_for(crawl_world, role)
    client = client_for(user)
    expected = set(member_list_for_user(user).values_list("pk", flat=True))
    assert expected, "the selector should give every member-viewing role someone"
    assert linked_ids(body_of(client.get("/members/")), "/members/") == expected
    if role in MEMBER_MANAGE:
        sheet = export_text(client.get("/members/export/"))
        rows = sorted(line.split("\t")[0] for line in sheet.splitlines()[1:])
        assert rows == sorted(member_list_for_user(user).values_list("name", flat=True))


@pytest.mark.parametrize("role", sorted(REGION_VIEW))
def test_region_list_equals_the_selector(crawl_world, role):
    user = user_for(crawl_world, role)
    expected = set(region_list_for_user(user).filter(is_active=True).values_list("pk", flat=True))
    assert linked_ids(body_of(client_for(user).get("/regions/")), "/regions/") == expected


@pytest.mark.parametrize("role", sorted(UNIT_VIEW))
def test_unit_list_equals_the_selector(crawl_world, role):
    user = user_for(crawl_world, role)
    expected = set(unit_list_for_user(user).filter(is_active=True).values_list("pk", flat=True))
    assert linked_ids(body_of(client_for(user).get("/units/")), "/units/") == expected


# --- R19 positive control and R21 reveal --------------------------------------------------------


@pytest.mark.parametrize("role", sorted(SENSITIVE))
def test_reveal_shows_the_value_and_writes_one_audit_row(crawl_world, role):
    user = user_for(crawl_world, role)
    client = client_for(user)
    member = crawl_world.a.members[1]
    for field_name, value in (("id_number", member.reveal_id_number()), ("phone", member.reveal_phone())):
        before = AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0
        response = client.post(
            f"/members/{member.pk}/reveal/",
            {"field": field_name, "reason": "核对报到信息"},
            REMOTE_ADDR="10.1.2.3",
        )
        assert response.status_code == 200
        assert value in response.content.decode()
        assert response["Cache-Control"] == "no-store"
        rows = list(AuditEvent.objects.filter(pk__gt=before))
        assert [(r.event, r.success) for r in rows] == [("member.revealed", True)]
        row = rows[0]
        assert (row.actor_id, row.object_id, row.changes, row.reason, row.ip) == (
            user.pk,
            str(member.pk),
            {"field": field_name},
            "核对报到信息",
            "10.1.2.3",
        )
        assert abs(timezone.now() - row.created_at).total_seconds() < 60


@pytest.mark.parametrize("role", sorted(USERS))
def test_reveal_refused_without_permission_or_outside_scope(crawl_world, role):
    user = user_for(crawl_world, role)
    client = client_for(user)
    targets = [crawl_world.b.members[1]] + ([] if role in SENSITIVE else [crawl_world.a.members[1]])
    if role == CITY:
        targets = []
    for member in targets:
        before = AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0
        response = client.post(f"/members/{member.pk}/reveal/", {"field": "id_number", "reason": "核对"})
        assert response.status_code == 404
        assert member.reveal_id_number() not in response.content.decode()
        assert not AuditEvent.objects.filter(pk__gt=before, event="member.revealed").exists()


def test_31st_reveal_in_an_hour_is_429(crawl_world):
    user = crawl_world.a.users[COMMUNITY]
    client = client_for(user)
    member = crawl_world.a.members[1]
    for i in range(30):
        response = client.post(f"/members/{member.pk}/reveal/", {"field": "phone", "reason": f"核对{i}"})
        assert response.status_code == 200, i
    response = client.post(f"/members/{member.pk}/reveal/", {"field": "phone", "reason": "第31次"})
    assert response.status_code == 429
    assert member.reveal_phone() not in response.content.decode()
    assert AuditEvent.objects.filter(event="member.revealed", actor=user, success=True).count() == 30
    assert AuditEvent.objects.filter(event="security.reveal_limit", actor=user).count() == 1


# --- R19: exports as every role ------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(MEMBER_MANAGE))
def test_full_export_only_for_view_sensitive(crawl_world, role):
    user = user_for(crawl_world, role)
    client = client_for(user)
    response = client.get("/members/export/", {"full": "1"})
    if role in SENSITIVE:
        assert response.status_code == 200
        text = export_text(response)
        visible = member_list_for_user(user)
        assert all(m.reveal_id_number() in text for m in visible)
        assert not any(m.reveal_id_number() in text for m in Member.objects.exclude(pk__in=visible))
    else:
        assert response.status_code == 403


def test_crawled_urls_have_no_personal_data_path_segments():
    """Sanity check of the URL recorder itself (R23): a canary in a URL is found."""
    from tests.factories import new_phone

    phone = new_phone()
    assert canary_hits(urlsplit(f"/members/?q={phone}").query) == {phone}


# --- R15 property: random trees and placements, pages equal a brute-force reference -------------


def _reference(user, role, regions, units, members):
    """Visible member, unit and region ids computed from parent pointers alone (no paths, no selectors)."""

    def region_ancestors(rid):
        while rid is not None:
            yield rid
            rid = regions[rid]

    def unit_ancestors(uid):
        while uid is not None:
            yield uid
            uid = units[uid][0]

    anchor_r, anchor_u = user.region_id, user.work_unit_id
    if role == CITY:
        return set(members), set(units), set(regions)
    if role == UNIT:
        vis_units = {u for u in units if anchor_u in set(unit_ancestors(u))}
        return {m for m, (u, _) in members.items() if u in vis_units}, vis_units, set()
    vis_regions = {r for r in regions if anchor_r in set(region_ancestors(r))}
    if role == COMMUNITY:
        vis_members = {m for m, (_, c) in members.items() if c == anchor_r}
        return vis_members, set(), vis_regions
    vis_members = {m for m, (_, c) in members.items() if c in vis_regions}
    vis_units = {u for u, (_, region) in units.items() if region is not None and region in vis_regions}
    return vis_members, vis_units, vis_regions


@pytest.mark.property
def test_pages_equal_a_brute_force_reference_over_random_placements(db):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from jinshequ.regions.models import RegionKind
    from tests.factories import make_member, make_region, make_unit, make_user

    shapes = st.fixed_dictionaries(
        {
            "streets": st.lists(
                st.integers(1, 2), min_size=1, max_size=2
            ),  # per district: communities per street
            "units": st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=4),
            "members": st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=6),
            "role": st.sampled_from([CITY, DISTRICT, STREET, COMMUNITY, UNIT, INSPECTOR]),
            "anchor": st.integers(0, 50),
        }
    )

    @settings(
        max_examples=examples(15),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(shapes)
    def check(shape):
        with savepoint():
            city = make_region("随机市", RegionKind.CITY)
            regions = {city.pk: None}
            districts, streets, communities = [], [], []
            for d, per_street in enumerate(shape["streets"]):
                district = make_region(f"区{d}", RegionKind.DISTRICT, city)
                regions[district.pk] = city.pk
                districts.append(district)
                street = make_region(f"街道{d}", RegionKind.STREET, district)
                regions[street.pk] = district.pk
                streets.append(street)
                for c in range(per_street):
                    community = make_region(f"社区{d}{c}", RegionKind.COMMUNITY, street)
                    regions[community.pk] = street.pk
                    communities.append(community)
            units, unit_objs = {}, []
            for i, (region_pick, parent_pick) in enumerate(shape["units"]):
                region = (districts + streets)[region_pick % len(districts + streets)]
                parent = unit_objs[parent_pick % len(unit_objs)] if unit_objs and parent_pick % 2 else None
                unit = make_unit(f"随机单位{i}", region=region, parent=parent)
                units[unit.pk] = (parent.pk if parent else None, region.pk)
                unit_objs.append(unit)
            members = {}
            for i, (unit_pick, community_pick) in enumerate(shape["members"]):
                unit = unit_objs[unit_pick % len(unit_objs)]
                community = communities[community_pick % len(communities)]
                members[make_member(f"随机{i}", unit, community).pk] = (unit.pk, community.pk)
            role = shape["role"]
            pick = shape["anchor"]
            anchors = {
                CITY: [city],
                DISTRICT: districts,
                INSPECTOR: districts,
                STREET: streets,
                COMMUNITY: communities,
            }
            if role == UNIT:
                user = make_user(f"u{pick}", Role.UNIT_ADMIN, unit=unit_objs[pick % len(unit_objs)])
            else:
                region = anchors[role][pick % len(anchors[role])]
                user = make_user(f"u{pick}", role, region=region)
            want_members, want_units, want_regions = _reference(user, role, regions, units, members)
            client = client_for(user)
            assert linked_ids(body_of(client.get("/members/")), "/members/") == want_members
            if role in MEMBER_MANAGE:
                sheet = export_text(client.get("/members/export/"))
                names = sorted(line.split("\t")[0] for line in sheet.splitlines()[1:])
                assert names == sorted(
                    Member.objects.filter(pk__in=want_members).values_list("name", flat=True)
                )
            if role in UNIT_VIEW:
                assert linked_ids(body_of(client.get("/units/")), "/units/") == want_units
            if role in REGION_VIEW:
                assert linked_ids(body_of(client.get("/regions/")), "/regions/") == want_regions

    check()


# --- objects for the service-record routes (records helper) -------------------------------------


def _rec_photo_name() -> str:
    """One tiny JPEG under MEDIA_ROOT shared by every crawled record (written once, not per request)."""
    import io as _io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image

    name = "records/crawl/crawl-photo.jpg"
    if not default_storage.exists(name):
        buf = _io.BytesIO()
        Image.new("RGB", (8, 8), (200, 0, 0)).save(buf, format="JPEG")
        default_storage.save(name, ContentFile(buf.getvalue()))
    return name


def _rec_record(ctx: Ctx, i: int = 0, photo: bool = True):
    """A pending record of the side's member ``i`` (member 0 is the member user) in the side's community."""
    from jinshequ.activities.models import ServiceRecord
    from jinshequ.posts.models import PostCategory

    day = timezone.localdate()
    return ServiceRecord.objects.create(
        member=ctx.side.members[i],
        community=ctx.side.community,
        category=PostCategory.objects.order_by("pk").first(),
        served_on=day,
        month=day.year * 100 + day.month,
        hours=2,
        description="爬虫测试：楼道清扫",
        created_at=timezone.now(),
        photo=_rec_photo_name() if photo else None,
    )


def _rec_form(ctx: Ctx) -> dict:
    from jinshequ.posts.models import PostCategory

    return {
        "served_on": timezone.localdate().isoformat(),
        "hours": "1.5",
        "people_helped": "1",
        "category": PostCategory.objects.filter(is_active=True).order_by("pk").first().pk,
        "description": "爬虫测试：陪同老人就医",
    }


def _rec_resident_token(ctx: Ctx) -> dict:
    """A live confirmation link (code 123456) for a record of member 1, who has no account."""
    import datetime as _dt
    import secrets

    from jinshequ.activities import records as rsvc
    from jinshequ.activities.models import ResidentCode

    record = _rec_record(ctx, 1, photo=False)
    token, now = secrets.token_urlsafe(16), timezone.now()
    ResidentCode.objects.create(
        member=record.member,
        record=record,
        token_hash=rsvc._token_hash(token),
        code_hash=rsvc._code_hash(token, "123456"),
        created_at=now,
        expires_at=now + _dt.timedelta(hours=24),
    )
    return {"token": token}


def _rec_certificate(ctx: Ctx):
    import secrets

    from jinshequ.activities.models import Certificate

    m, today = ctx.side.members[0], timezone.localdate()
    return Certificate.objects.create(
        member=m,
        number=f"ZMCRAWL{secrets.randbelow(10**9):09d}",
        nonce=secrets.token_hex(8),
        period_start=today.replace(day=1),
        period_end=today,
        hours=2,
        record_count=1,
        member_name=m.name,
        unit_name=ctx.side.unit.name,
        issuer_name="爬虫测试",
        issued_at=timezone.now(),
    )


def _rec_certificate_token(ctx: Ctx) -> dict:
    from jinshequ.activities.records import certificate_token

    return {"token": certificate_token(_rec_certificate(ctx))}


# --- checklists (四个一 / 十个有) ----------------------------------------------------------------------


def _checklist_item(ctx: Ctx, title: str):
    """A default item of the crawl campaign (the defaults are created on first use; items are city-wide)."""
    from jinshequ.supervision.models import ChecklistItem
    from jinshequ.supervision.services import items_create_defaults

    item = ChecklistItem.objects.filter(campaign=ctx.world.campaign, title=title).first()
    if item is None:
        items_create_defaults(campaign=ctx.world.campaign, actor=None)
        item = ChecklistItem.objects.get(campaign=ctx.world.campaign, title=title)
    return item


def _checklist_region(ctx: Ctx) -> dict:
    """The overview drilled down to a region of the side: the community admin's own community (which
    redirects to its page), everyone else the street."""
    return {"region": (ctx.side.community if ctx.role == COMMUNITY else ctx.side.street).pk}
