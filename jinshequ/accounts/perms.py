"""Permissions, named once, and the role → permissions table (function-level access, R13).

Object-level access (which rows, this row or 404, may this user do this to it) is the job of the access
layer (``jinshequ.access``, one policy per model in each app's ``policies.py``); this module only answers
"may this role use this function at all".
"""

from __future__ import annotations

from enum import StrEnum
from functools import wraps

from django.core.exceptions import PermissionDenied

from jinshequ.accounts.models import Role


class Perm(StrEnum):
    REGION_VIEW = "regions:region:view"
    REGION_MANAGE = "regions:region:manage"
    UNIT_VIEW = "units:unit:view"
    UNIT_MANAGE = "units:unit:manage"
    MEMBER_VIEW = "members:member:view"
    MEMBER_MANAGE = "members:member:manage"
    MEMBER_VIEW_SENSITIVE = "members:member:view_sensitive"
    MEMBER_IMPORT = "members:member:import"
    MEMBER_EXPORT = "members:member:export"
    UNIT_IMPORT = "units:unit:import"
    SKILL_MANAGE = "members:skill:manage"
    AUDIT_VIEW = "accounts:audit:view"
    ACCOUNT_MANAGE = "accounts:user:manage"
    SELF_SERVICE = "members:self:view"
    # report-in and check-off (issue 3)
    REPORT_SELF = "members:registration:self"  # a member reports in, sees own card
    REGISTRATION_REVIEW = "members:registration:review"  # confirm / reject / register at the office
    LEDGER_VIEW = "members:registration:ledger"  # community ledger (登记台账)
    ROSTER_VIEW = "members:roster:view"  # unit roster, check-off status
    EXEMPTION_MANAGE = "members:exemption:manage"
    CARD_MANAGE = "members:card:manage"  # print cards in batch, reissue a lost card
    REMINDER_SEND = "members:reminder:send"
    STATS_VIEW = "stats:registration:view"  # report-in rates up the tree
    CAMPAIGN_MANAGE = "campaigns:campaign:manage"
    MEMBER_MERGE = "members:member:merge"
    # posts, claims, service teams, households and pairing (issue 4)
    POST_CATEGORY_MANAGE = "posts:category:manage"  # city catalogue of post categories
    POST_MANAGE = "posts:post:manage"  # community: posts, claims, settings
    POST_CLAIM = "posts:claim:self"  # member: see ranked posts, claim, withdraw
    TEAM_MANAGE = "posts:team:manage"  # community: service teams
    TEAM_JOIN = "posts:team:join"  # member: join / leave a team
    HOUSEHOLD_MANAGE = "posts:household:manage"  # community: households in difficulty, pairing
    HOUSEHOLD_SELF = "posts:household:self"  # member: households paired with them
    COVERAGE_VIEW = "posts:coverage:view"  # 全员认领 coverage up the tree
    # activities, sign-up and check-in (issue 4)
    ACTIVITY_MANAGE = "activities:activity:manage"  # community: publish, check-in screens, attendance
    ACTIVITY_JOIN = "activities:signup:self"  # member: sign up, check in (team leaders also manage)
    # service records, work manual (工作手册) and certificates (issue 4, records)
    RECORD_SELF = "activities:record:self"  # member: log service, ask the resident to confirm
    RECORD_VERIFY = "activities:record:verify"  # community: verify / reject records
    MANUAL_VIEW = "activities:manual:view"  # read a member's work manual (own, or in scope)
    CERTIFICATE_ISSUE = "activities:certificate:issue"  # issue / revoke a service certificate (服务证明)
    # 四个一 / 十个有 checklists (issue 4, checklists)
    CHECKLIST_MANAGE = "supervision:checklist:manage"  # city: the items of each campaign
    CHECKLIST_VIEW = "supervision:checklist:view"  # 十个有 per community and up the region tree
    CHECKLIST_MEMBER_VIEW = "supervision:checklist:member_view"  # members' 四个一: lists, by unit, one member
    CHECKLIST_MARK_COMMUNITY = (
        "supervision:checklist:mark_community"  # community / street admin: 十个有 marks
    )
    CHECKLIST_MARK_MEMBER = "supervision:checklist:mark_member"  # community / unit admin: 四个一 marks
    CHECKLIST_SELF = "supervision:checklist:self"  # member: own 四个一


_ADMIN_MEMBER = {Perm.MEMBER_VIEW, Perm.MEMBER_MANAGE, Perm.MEMBER_IMPORT, Perm.MEMBER_EXPORT}

_OVERSIGHT = {Perm.LEDGER_VIEW, Perm.ROSTER_VIEW, Perm.STATS_VIEW}

_COMMUNITY_POSTS = {Perm.POST_MANAGE, Perm.TEAM_MANAGE, Perm.HOUSEHOLD_MANAGE}
_MEMBER_POSTS = {Perm.POST_CLAIM, Perm.TEAM_JOIN, Perm.HOUSEHOLD_SELF}
_COMMUNITY_ACTIVITIES = {Perm.ACTIVITY_MANAGE}
_MEMBER_ACTIVITIES = {Perm.ACTIVITY_JOIN}

ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.CITY_ADMIN: frozenset(
        set(Perm)
        - {
            Perm.SELF_SERVICE,
            Perm.REPORT_SELF,
            Perm.REGISTRATION_REVIEW,
            Perm.EXEMPTION_MANAGE,
            Perm.REMINDER_SEND,
        }
        - _COMMUNITY_POSTS
        - _MEMBER_POSTS
        - _COMMUNITY_ACTIVITIES
        - _MEMBER_ACTIVITIES
    ),
    Role.DISTRICT_ADMIN: frozenset(
        _ADMIN_MEMBER
        | _OVERSIGHT
        | {Perm.REGION_VIEW, Perm.REGION_MANAGE, Perm.UNIT_VIEW, Perm.UNIT_MANAGE, Perm.UNIT_IMPORT}
        | {Perm.COVERAGE_VIEW}
    ),
    Role.STREET_ADMIN: frozenset(
        _ADMIN_MEMBER
        | _OVERSIGHT
        | {Perm.REGION_VIEW, Perm.REGION_MANAGE, Perm.UNIT_VIEW}
        | {Perm.COVERAGE_VIEW}
    ),
    Role.COMMUNITY_ADMIN: frozenset(
        _ADMIN_MEMBER
        | {
            Perm.REGION_VIEW,
            Perm.MEMBER_VIEW_SENSITIVE,
            Perm.REGISTRATION_REVIEW,
            Perm.LEDGER_VIEW,
            Perm.STATS_VIEW,
        }
        | _COMMUNITY_POSTS
        | {Perm.COVERAGE_VIEW}
        | _COMMUNITY_ACTIVITIES
    ),
    Role.UNIT_ADMIN: frozenset(
        _ADMIN_MEMBER
        | {
            Perm.UNIT_VIEW,
            Perm.UNIT_MANAGE,
            Perm.MEMBER_VIEW_SENSITIVE,
            Perm.ROSTER_VIEW,
            Perm.EXEMPTION_MANAGE,
            Perm.CARD_MANAGE,
            Perm.REMINDER_SEND,
            Perm.STATS_VIEW,
        }
        | {Perm.COVERAGE_VIEW}
    ),
    Role.INSPECTOR: frozenset(
        {Perm.REGION_VIEW, Perm.UNIT_VIEW, Perm.MEMBER_VIEW} | _OVERSIGHT | {Perm.COVERAGE_VIEW}
    ),
    Role.MEMBER: frozenset({Perm.SELF_SERVICE, Perm.REPORT_SELF} | _MEMBER_POSTS | _MEMBER_ACTIVITIES),
}


# Records, manuals and certificates (issue 4): granted here rather than by ``set(Perm)``, so the city admin
# does not get them implicitly. Manuals are read by the member, the unit admin, the community admin and
# inspectors (each in scope, see ``activities.records_selectors``); certificates are issued by the member
# and by the community and unit admins.
_RECORD_PERMS = {Perm.RECORD_SELF, Perm.RECORD_VERIFY, Perm.MANUAL_VIEW, Perm.CERTIFICATE_ISSUE}
_RECORD_GRANTS = {
    Role.MEMBER: {Perm.RECORD_SELF, Perm.MANUAL_VIEW, Perm.CERTIFICATE_ISSUE},
    Role.COMMUNITY_ADMIN: {Perm.RECORD_VERIFY, Perm.MANUAL_VIEW, Perm.CERTIFICATE_ISSUE},
    Role.UNIT_ADMIN: {Perm.MANUAL_VIEW, Perm.CERTIFICATE_ISSUE},
    Role.INSPECTOR: {Perm.MANUAL_VIEW},
}
ROLE_PERMS = {
    role: frozenset((perms - _RECORD_PERMS) | _RECORD_GRANTS.get(role, set()))
    for role, perms in ROLE_PERMS.items()
}

# Checklists (issue 4): granted explicitly, like the records above. Manual items are marked by the responsible
# admin (member items: community or unit admin; community items: community or street admin); the city admin
# defines the items and reads, district admins and inspectors read (scopes in ``supervision.selectors``).
_CHECKLIST_PERMS = {
    Perm.CHECKLIST_MANAGE,
    Perm.CHECKLIST_VIEW,
    Perm.CHECKLIST_MEMBER_VIEW,
    Perm.CHECKLIST_MARK_COMMUNITY,
    Perm.CHECKLIST_MARK_MEMBER,
    Perm.CHECKLIST_SELF,
}
_CHECKLIST_GRANTS = {
    Role.CITY_ADMIN: {Perm.CHECKLIST_MANAGE, Perm.CHECKLIST_VIEW, Perm.CHECKLIST_MEMBER_VIEW},
    Role.DISTRICT_ADMIN: {Perm.CHECKLIST_VIEW, Perm.CHECKLIST_MEMBER_VIEW},
    Role.STREET_ADMIN: {Perm.CHECKLIST_VIEW, Perm.CHECKLIST_MEMBER_VIEW, Perm.CHECKLIST_MARK_COMMUNITY},
    Role.COMMUNITY_ADMIN: {
        Perm.CHECKLIST_VIEW,
        Perm.CHECKLIST_MEMBER_VIEW,
        Perm.CHECKLIST_MARK_COMMUNITY,
        Perm.CHECKLIST_MARK_MEMBER,
    },
    Role.UNIT_ADMIN: {Perm.CHECKLIST_MEMBER_VIEW, Perm.CHECKLIST_MARK_MEMBER},
    Role.INSPECTOR: {Perm.CHECKLIST_VIEW, Perm.CHECKLIST_MEMBER_VIEW},
    Role.MEMBER: {Perm.CHECKLIST_SELF},
}
ROLE_PERMS = {
    role: frozenset((perms - _CHECKLIST_PERMS) | _CHECKLIST_GRANTS.get(role, set()))
    for role, perms in ROLE_PERMS.items()
}


def user_has_perm(user, perm: Perm) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return perm in ROLE_PERMS.get(user.role, frozenset())


def require_perm(perm: Perm):
    """View decorator: 403 when the user's role lacks ``perm`` (login is enforced by middleware)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_has_perm(request.user, perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_perm = perm
        return wrapped

    return decorator
