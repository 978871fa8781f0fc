"""Scoped reads of regions: the one place that decides which regions a user may see."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from jinshequ.accounts.models import Role
from jinshequ.regions.models import Region, RegionKind


def region_list_for_user(user) -> QuerySet[Region]:
    qs = Region.objects.all()
    if user.role == Role.CITY_ADMIN:
        return qs
    if user.role in (Role.DISTRICT_ADMIN, Role.STREET_ADMIN, Role.INSPECTOR, Role.COMMUNITY_ADMIN) and user.region_id:
        return qs.filter(path__startswith=user.region.path)
    return qs.none()


def region_get_for_user(*, user, pk) -> Region:
    try:
        return region_list_for_user(user).get(pk=pk)
    except (Region.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def community_choices() -> QuerySet[Region]:
    """Active communities for pick lists (names are public)."""
    return Region.objects.filter(kind=RegionKind.COMMUNITY, is_active=True).order_by("path")


def subtree(region: Region) -> QuerySet[Region]:
    return Region.objects.filter(path__startswith=region.path)
