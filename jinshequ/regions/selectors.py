"""Scoped reads of regions: the one place that decides which regions a user may see."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import QuerySet

from jinshequ.access import Kind, kind_of
from jinshequ.regions.models import Region, RegionKind
from jinshequ.regions.policies import region_policy


def region_list_for_user(user) -> QuerySet[Region]:
    """The regions ``user`` may see (``RegionPolicy``)."""
    return region_policy.rows(user)


def region_get_for_user(*, user, pk) -> Region:
    """The region ``pk`` or ``Http404`` for missing and foreign alike."""
    return region_policy.get(user=user, pk=pk)


CHOICES_TTL = 300
_VERSION_KEY = "regions:version"


def regions_changed(**_kwargs) -> None:
    """Invalidate cached pick lists (connected to Region saves and deletes; bulk loads call it themselves)."""
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:
        cache.set(_VERSION_KEY, 1, None)


def _city_wide_communities(user) -> bool:
    return kind_of(user) in (Kind.CITY, Kind.UNIT)


def communities_for_user(user) -> QuerySet[Region]:
    """Communities a user may pick (place a member in, filter by): their own scope, or every community for
    city and unit admins (a unit's members live all over the city)."""
    if _city_wide_communities(user):
        return community_choices()
    return region_list_for_user(user).filter(kind=RegionKind.COMMUNITY, is_active=True).order_by("path")


def community_pairs_for_user(user) -> list[tuple[int, str]]:
    """``communities_for_user`` as (id, name) pairs for filter pick lists, cached for a few minutes per scope
    (a city's 225 communities are otherwise a query and a list per page view)."""
    version = cache.get_or_set(_VERSION_KEY, 1, None)
    scope = "all" if _city_wide_communities(user) else (user.region.path if user.region_id else "none")
    key = f"regions:communities:{version}:{scope}"
    pairs = cache.get(key)
    if pairs is None:
        pairs = list(communities_for_user(user).values_list("pk", "name"))
        cache.set(key, pairs, CHOICES_TTL)
    return pairs


def community_choices() -> QuerySet[Region]:
    """Active communities for pick lists (names are public)."""
    return Region.objects.filter(kind=RegionKind.COMMUNITY, is_active=True).order_by("path")


def subtree(region: Region) -> QuerySet[Region]:
    return Region.objects.filter(path__startswith=region.path)
