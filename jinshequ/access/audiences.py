"""Who is who, for scope: the one place (with ``accounts.perms`` and ``accounts.models``) that names roles.

Policies declare their audiences with these sets (``sees_region = audiences.REGION_OVERSIGHT``) and never
compare a role themselves. ``kind_of(user)`` answers "what is this user's scope anchored to" for the few
pages whose layout (not whose rows) depends on it, e.g. a unit admin's roster defaulting to their unit.
"""

from __future__ import annotations

from enum import StrEnum

from jinshequ.accounts.models import Role

CITY = frozenset({Role.CITY_ADMIN})
# District and street admins and inspectors: a region subtree, read as a whole.
REGION_OVERSIGHT = frozenset({Role.DISTRICT_ADMIN, Role.STREET_ADMIN, Role.INSPECTOR})
COMMUNITY_ADMINS = frozenset({Role.COMMUNITY_ADMIN})
# Everybody anchored in the region tree (their region, or the whole city).
REGION_ANCHORED = CITY | REGION_OVERSIGHT | COMMUNITY_ADMINS
UNIT_ADMINS = frozenset({Role.UNIT_ADMIN})
MEMBERS = frozenset({Role.MEMBER})
INSPECTORS = frozenset({Role.INSPECTOR})
# Read-only everywhere: ``Policy.can`` refuses every action but a read.
READ_ONLY = INSPECTORS
NOBODY: frozenset[str] = frozenset()


class Kind(StrEnum):
    """What a user's scope is anchored to."""

    CITY = "city"  # the whole city
    REGION = "region"  # a district or street subtree (admins and inspectors)
    COMMUNITY = "community"  # one community
    UNIT = "unit"  # a work-unit subtree
    MEMBER = "member"  # their own rows
    NONE = "none"  # anonymous, or the role's anchor is missing


def kind_of(user) -> Kind:
    """The anchor of ``user``'s scope; ``Kind.NONE`` when anonymous or when the role's anchor is unset."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Kind.NONE
    role = user.role
    if role in CITY:
        return Kind.CITY
    if role in REGION_OVERSIGHT:
        return Kind.REGION if user.region_id else Kind.NONE
    if role in COMMUNITY_ADMINS:
        return Kind.COMMUNITY if user.region_id else Kind.NONE
    if role in UNIT_ADMINS:
        return Kind.UNIT if user.work_unit_id else Kind.NONE
    if role in MEMBERS:
        return Kind.MEMBER
    return Kind.NONE


def in_audience(user, audience: frozenset[str]) -> bool:
    """Whether ``user`` (signed in) belongs to ``audience``, one of the sets above."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.role in audience)


def is_member(user) -> bool:
    return in_audience(user, MEMBERS)


def is_read_only(user) -> bool:
    """Inspectors read and never write."""
    return in_audience(user, READ_ONLY)


def administered_community_id(user) -> int | None:
    """The community ``user`` administers (a community admin's anchor), else ``None``."""
    return user.region_id if kind_of(user) is Kind.COMMUNITY else None


def manages_community(user, community_id: int | None) -> bool:
    """Whether ``user`` is the admin of community ``community_id`` (the one rule behind every
    "only this community's admin may …" guard)."""
    return community_id is not None and administered_community_id(user) == community_id


def administered_unit(user):
    """The work unit at the top of a unit admin's subtree, else ``None``."""
    return user.work_unit if kind_of(user) is Kind.UNIT else None


def unit_outside_anchor(user, unit) -> bool:
    """Whether ``user`` is a unit admin and ``unit`` lies outside their unit subtree (other roles: never)."""
    top = administered_unit(user)
    return top is not None and not unit.path.startswith(top.path)


def member_acting_for_another(actor, member) -> bool:
    """Whether ``actor`` is a member acting on another member's behalf (refused by self-service writes)."""
    return is_member(actor) and member.user_id != actor.pk


def administered_unit_id(user) -> int | None:
    """The id of ``administered_unit(user)``, without loading the unit."""
    return user.work_unit_id if kind_of(user) is Kind.UNIT else None
