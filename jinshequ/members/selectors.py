"""Scoped reads of members: pages, exports and the API all start from ``member_list_for_user``."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from jinshequ.core.idcard import normalize_id_number, normalize_phone
from jinshequ.members.models import Member, id_number_hash, phone_hash
from jinshequ.members.policies import member_policy


def member_list_for_user(user) -> QuerySet[Member]:
    """The members ``user`` may see (``MemberPolicy``)."""
    return member_policy.rows(user)


def member_get_for_user(*, user, pk) -> Member:
    """The member ``pk`` with unit and community, or ``Http404`` for missing and foreign alike."""
    return member_policy.get(user=user, pk=pk)


SORTS = {
    "name": ("name_pinyin", "id"),
    "-name": ("-name_pinyin", "-id"),
    "unit": ("work_unit__name", "name_pinyin", "id"),
    "community": ("community__path", "name_pinyin", "id"),
    "birth": ("birth_date", "id"),
    "-birth": ("-birth_date", "-id"),
    "created": ("-created_at", "-id"),
}


def is_full_identifier(term: str) -> bool:
    """A whole ID number or phone: personal data that must not travel in a URL (R23)."""
    term = (term or "").strip()
    return bool(re.fullmatch(r"\d{17}[\dXx]", term) or re.fullmatch(r"1[3-9]\d{9}", normalize_phone(term)))


def member_search(qs: QuerySet[Member], term: str) -> QuerySet[Member]:
    """Name, pinyin initials, full ID number or phone (by hash), or the last 4 of either."""
    term = (term or "").strip()
    if not term:
        return qs
    if re.fullmatch(r"\d{17}[\dXx]", term):
        return qs.filter(id_number_hash=id_number_hash(normalize_id_number(term)))
    if re.fullmatch(r"1[3-9]\d{9}", normalize_phone(term)):
        return qs.filter(phone_hash=phone_hash(normalize_phone(term)))
    if re.fullmatch(r"\d{3}[\dXx]", term):
        return qs.filter(Q(id_tail=term.upper()) | Q(phone_tail=term))
    if re.fullmatch(r"[A-Za-z]+", term):
        # Ranges instead of LIKE: the stored values are lowercase ASCII, and SQLite serves a range from the
        # index but not a LIKE. ``low + "{"`` is the first string after every string starting with ``low``.
        low = term.lower()
        high = low + "{"
        return qs.filter(
            Q(name_initials__gte=low, name_initials__lt=high) | Q(name_pinyin__gte=low, name_pinyin__lt=high)
        )
    return qs.filter(name__contains=term)


def member_filter(
    user,
    *,
    q: str = "",
    unit=None,
    community=None,
    status: str = "",
    party_status: str = "",
    sort: str = "name",
) -> QuerySet[Member]:
    qs = member_list_for_user(user)
    qs = member_search(qs, q)
    if unit:
        qs = qs.filter(work_unit_id=unit)
    if community:
        qs = qs.filter(community_id=community)
    if status:
        qs = qs.filter(status=status)
    if party_status:
        qs = qs.filter(party_status=party_status)
    return (
        qs.select_related("work_unit", "community")
        .defer("id_number_enc", "phone_enc")
        .order_by(*SORTS.get(sort, SORTS["name"]))
    )
