"""The searchable pick lists of the member pages: communities and work units, read through their scoped
selectors (``regions.selectors.communities_for_user``, ``units.selectors``), so a user is never offered a
name outside their scope.

A list of at most ``PICK_LIMIT`` choices stays a plain ``<select>``; a longer one is searched
(``core.widgets.SearchableSelect`` and the ``members:choices`` endpoint): it lists the chosen option and the
first ``PICK_LIMIT`` whose names contain the search text.
"""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from jinshequ.core.widgets import SearchableSelect
from jinshequ.regions.selectors import community_pairs_for_user
from jinshequ.units.selectors import unit_choices_for_user, unit_list_for_user

PICK_LIMIT = 30

# kind → the scoped rows it picks from; the search text comes as "<kind>_name", the chosen id as "<kind>".
KINDS = ("community", "unit", "work_unit")
BLANK = {  # the empty option: in a filter ("all"), or in a form (choose one)
    ("community", True): _("全部社区"),
    ("community", False): _("请选择社区"),
    ("unit", True): _("全部单位"),
    ("unit", False): _("请选择单位"),
    ("work_unit", True): _("全部单位"),
    ("work_unit", False): _("请选择单位"),
}
PLACEHOLDER = {"community": _("社区名称"), "unit": _("单位名称"), "work_unit": _("单位名称")}


def _as_id(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _units(user, kind: str):
    # the filter offers the units whose members the user sees; the form those a member may be placed in
    return unit_list_for_user(user) if kind == "unit" else unit_choices_for_user(user)


def first_choices(user, kind: str) -> list[tuple[int, str]]:
    """Up to ``PICK_LIMIT + 1`` of the scope's choices, in order: all of them when the list is short."""
    if kind == "community":
        return community_pairs_for_user(user)[: PICK_LIMIT + 1]  # cached per scope
    return list(_units(user, kind).order_by("name").values_list("pk", "name")[: PICK_LIMIT + 1])


def pick_choices(user, kind: str, *, q: str = "", selected=None) -> list[tuple[int, str]]:
    """The chosen option (if in scope) and the first ``PICK_LIMIT`` choices whose names contain ``q``; one
    query at most (none for communities, whose list is cached per scope)."""
    q, chosen = (q or "").strip(), _as_id(selected)
    if kind == "community":
        pairs = community_pairs_for_user(user)
        head = [p for p in pairs if p[0] == chosen]
        found = [p for p in pairs if q in p[1] and p[0] != chosen][:PICK_LIMIT] if q else []
        return head + found
    if not q and chosen is None:
        return []
    condition = Q(pk=chosen) if chosen is not None else Q(pk__in=[])
    if q:
        condition |= Q(name__contains=q)
    rows = list(
        _units(user, kind).filter(condition).order_by("name").values_list("pk", "name")[: PICK_LIMIT + 1]
    )
    head = [r for r in rows if r[0] == chosen]
    return head + [r for r in rows if r[0] != chosen][:PICK_LIMIT]


def blank_choice(kind: str, *, filtering: bool) -> tuple[str, str]:
    return ("", BLANK[kind, filtering])


def searchable_widget(
    user, kind: str, *, data, filtering: bool, selected=None, attrs=None
) -> SearchableSelect:
    """The widget of a long pick list, its options as the form's data asks (search text and chosen id)."""
    search_name = f"{kind}_name"
    q = data.get(search_name, "") if data else ""
    if data:
        selected = data.get(kind)
    url = reverse("members:choices", args=[kind]) + ("?all=1" if filtering else "")
    choices = [blank_choice(kind, filtering=filtering), *pick_choices(user, kind, q=q, selected=selected)]
    return SearchableSelect(
        {"class": "form-select", **(attrs or {})},
        choices,
        url=url,
        search_name=search_name,
        search=q,
        placeholder=PLACEHOLDER[kind],
    )
