"""Spreadsheet import of work units, on the engine in ``jinshequ.imports.services`` (registered there by
``UnitsConfig.ready``).

Units are matched by name (unique). A parent may be an existing unit or another row of the same
file; rows are saved parents first. Units are few (a city has about 2,000), so each row is saved
through ``units.services`` (which keeps ``path`` and the subtree consistent and audits), all inside
the one import transaction.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any, ClassVar

from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.access import Kind, kind_of
from jinshequ.imports.models import ImportJob
from jinshequ.imports.services import (
    BaseImporter,
    Column,
    ProgressFn,
    cell_text,
    match_region_path,
    norm_key,
    suggest,
)
from jinshequ.units.models import UnitKind, WorkUnit

UNIT_COLUMNS: tuple[Column, ...] = (
    Column(
        "name",
        "单位名称",
        ("单位", "名称", "单位全称"),
        required=True,
        note=_("全称，最多 120 个字；按名称识别单位。"),
        width=30,
    ),
    Column("short_name", "简称", ("单位简称",), note=_("最多 60 个字。"), width=14),
    Column(
        "kind",
        "单位类型",
        ("类型", "单位性质"),
        note=lazy(
            lambda: (
                gettext("、").join(str(label) for label in UnitKind.labels) + gettext("；不填视为“其他”。")
            ),
            str,
        )(),
        width=12,
    ),
    Column(
        "parent",
        "上级单位",
        ("主管部门", "上级主管单位", "主管单位"),
        note=_("系统中已有的单位，或本文件中的另一行；可不填。"),
        width=30,
    ),
    Column(
        "region",
        "所在区域",
        ("区域", "所属区域", "所在地区", "所在区县"),
        note=_("区、街道或社区名称；有重名时写成“区/街道”。区级管理员必须填写本区内的区域。"),
        width=20,
    ),
)


@dataclasses.dataclass
class UnitRow:
    number: int
    name: str
    key: str
    fields: dict[str, Any]
    parent_key: str | None  # None: column blank (unchanged); "": explicitly no parent is not expressible


@dataclasses.dataclass
class PlannedUnit:
    row: UnitRow
    action: str
    unit_id: int | None = None
    changes: dict[str, list] = dataclasses.field(default_factory=dict)


class UnitImporter(BaseImporter):
    kind = ImportJob.Kind.UNITS
    label = _("单位")
    columns = UNIT_COLUMNS
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"kind": tuple(str(label) for label in UnitKind.labels)}

    def __init__(self, *, user=None, progress: ProgressFn | None = None) -> None:
        super().__init__(user=user, progress=progress)
        self.clean_rows: list[UnitRow] = []
        self.plan: list[PlannedUnit] = []

    def prepare(self) -> None:
        from jinshequ.regions.models import Region, RegionKind
        from jinshequ.regions.selectors import region_list_for_user
        from jinshequ.units.selectors import unit_list_for_user

        user = self.user
        self.kind_by_label = {norm_key(str(label)): value for value, label in UnitKind.choices}
        regions = {
            r[0]: r for r in Region.objects.values_list("id", "name", "kind", "parent_id", "is_active")
        }
        self.region_label: dict[int, str] = {}
        self.region_by_key: dict[str, set[int]] = defaultdict(set)
        self.region_ancestors: dict[int, set[str]] = {}
        for rid, name, kind, parent_id, _active in regions.values():
            if kind == RegionKind.CITY:
                continue
            chain = [name]
            pid = parent_id
            while pid is not None and pid in regions and regions[pid][2] != RegionKind.CITY:
                chain.insert(0, regions[pid][1])
                pid = regions[pid][3]
            self.region_label[rid] = "/".join(chain)
            self.region_ancestors[rid] = {norm_key(n) for n in chain[:-1]}
            for start in range(len(chain)):
                self.region_by_key[norm_key("".join(chain[start:]))].add(rid)
        city_ids = [rid for rid, r in regions.items() if r[2] == RegionKind.CITY]
        for rid in city_ids:
            self.region_label[rid] = regions[rid][1]
            self.region_ancestors[rid] = set()
            self.region_by_key[norm_key(regions[rid][1])].add(rid)
        self.region_active = {rid for rid, r in regions.items() if r[4]}
        if user is None:
            self.region_scope = set(regions)
            self.unit_scope = set(WorkUnit.objects.values_list("id", flat=True))
        else:
            self.region_scope = set(region_list_for_user(user).values_list("id", flat=True))
            self.unit_scope = set(unit_list_for_user(user).values_list("id", flat=True))
        self.region_required = user is not None and kind_of(user) is not Kind.CITY

    def find_region(self, row: int, raw: Any) -> int | None:
        text = cell_text(raw)
        ids = match_region_path(text, self.region_by_key, self.region_ancestors)
        if not ids:
            hint = suggest(
                text,
                (
                    self.region_label[r].rsplit("/", 1)[-1]
                    for r in self.region_scope
                    if r in self.region_label
                ),
            )
            self.error(
                row,
                "region",
                raw,
                gettext("系统中没有名为“%(text)s”的区域。%(hint)s") % {"text": text, "hint": hint},
            )
            return None
        if len(ids) > 1:
            options = gettext("、").join(sorted(self.region_label[r] for r in ids)[:5])
            self.error(
                row,
                "region",
                raw,
                gettext("有多个区域叫“%(text)s”（%(options)s），请写成“区/街道”以便区分。")
                % {"text": text, "options": options},
            )
            return None
        rid = ids.pop()
        if rid not in self.region_active:
            self.error(row, "region", raw, gettext("区域“%(text)s”已停用。") % {"text": text})
            return None
        if rid not in self.region_scope:
            self.error(row, "region", raw, gettext("该区域不在您的管辖范围内。"))
            return None
        return rid

    def clean_all(self) -> None:
        seen: dict[str, list[int]] = defaultdict(list)
        for source in self.rows:
            cleaned = self.clean_row(source)
            if cleaned is not None:
                self.clean_rows.append(cleaned)
        for cleaned in self.clean_rows:
            seen[cleaned.key].append(cleaned.number)
        for cleaned in self.clean_rows:
            numbers = seen[cleaned.key]
            if len(numbers) > 1:
                others = gettext("、").join(str(n) for n in numbers if n != cleaned.number)
                self.error(
                    cleaned.number,
                    "name",
                    cleaned.name,
                    gettext("单位名称在文件中重复出现（另见第 %(others)s 行）。") % {"others": others},
                )
        self.progress("validate", len(self.rows), len(self.rows))

    def clean_row(self, source) -> UnitRow | None:
        v, row = source.values, source.number
        before = self.error_count
        fields: dict[str, Any] = {}
        name = cell_text(v.get("name"))
        if not name:
            self.error(row, "name", "", gettext("请填写单位名称。"))
        elif len(name) > 120:
            self.error(row, "name", name, gettext("单位名称不能超过 120 个字。"))
        if "short_name" in v:
            short = cell_text(v["short_name"])
            if len(short) > 60:
                self.error(row, "short_name", short, gettext("简称不能超过 60 个字。"))
            fields["short_name"] = short
        if "kind" in v:
            kind = self.kind_by_label.get(norm_key(cell_text(v["kind"])))
            if kind is None:
                self.error(
                    row,
                    "kind",
                    v["kind"],
                    gettext("单位类型只能是：%(join)s。")
                    % {"join": gettext("、").join(str(label) for label in UnitKind.labels)},
                )
            fields["kind"] = kind
        if "region" in v:
            region_id = self.find_region(row, v["region"])
            fields["region_id"] = region_id
        parent_key = norm_key(cell_text(v["parent"])) if "parent" in v else None
        if parent_key is not None and parent_key == norm_key(name):
            self.error(row, "parent", v["parent"], gettext("上级单位不能是它自己。"))
        if self.error_count != before:
            return None
        if parent_key is not None:
            fields["parent_raw"] = cell_text(v["parent"])
        return UnitRow(row, name, norm_key(name), fields, parent_key)

    def check_existing(self) -> None:
        units = list(
            WorkUnit.objects.values_list("id", "name", "parent_id", "region_id", "short_name", "kind", "path")
        )
        self.existing = {norm_key(u[1]): u for u in units}
        self.existing_by_id = {u[0]: u for u in units}
        in_file = {r.key: r for r in self.clean_rows}
        for r in self.clean_rows:
            old = self.existing.get(r.key)
            if old is not None and old[0] not in self.unit_scope:
                self.error(
                    r.number,
                    "name",
                    r.name,
                    gettext("该单位已存在，且不在您的管辖范围内，不能通过导入修改。"),
                )
            if old is None and self.region_required and r.fields.get("region_id") is None:
                self.error(
                    r.number,
                    "region",
                    "",
                    gettext("请填写所在区域（须在您的管辖范围内），否则新单位不在您的管辖范围内。"),
                )
            if r.parent_key:
                parent = self.existing.get(r.parent_key)
                if parent is None and r.parent_key not in in_file:
                    hint = suggest(
                        r.fields["parent_raw"],
                        [u[1] for u in units if u[0] in self.unit_scope] + [x.name for x in self.clean_rows],
                    )
                    self.error(
                        r.number,
                        "parent",
                        r.fields["parent_raw"],
                        gettext("找不到上级单位“%(value)s”。%(hint)s")
                        % {"value": r.fields["parent_raw"], "hint": hint},
                    )
                elif parent is not None and r.parent_key not in in_file and parent[0] not in self.unit_scope:
                    self.error(
                        r.number, "parent", r.fields["parent_raw"], gettext("上级单位不在您的管辖范围内。")
                    )
        self._check_cycles(in_file)
        # A row whose parent row has errors cannot be saved either (repeat until stable).
        changed = True
        while changed:
            changed = False
            for r in self.clean_rows:
                if r.number in self.bad_rows or not r.parent_key or r.parent_key not in in_file:
                    continue
                parent_row = in_file[r.parent_key]
                if parent_row.number in self.bad_rows:
                    self.error(
                        r.number,
                        "parent",
                        r.fields["parent_raw"],
                        gettext("上级单位所在的第 %(number)s 行有错误，本行无法导入。")
                        % {"number": parent_row.number},
                    )
                    changed = True

    def _check_cycles(self, in_file: dict[str, UnitRow]) -> None:
        parent_of: dict[str, str | None] = {}
        for key, u in self.existing.items():
            parent = self.existing_by_id.get(u[2]) if u[2] else None
            parent_of[key] = norm_key(parent[1]) if parent else None
        for r in self.clean_rows:
            if r.parent_key is not None:
                parent_of[r.key] = r.parent_key or None
        for r in self.clean_rows:
            seen = {r.key}
            key = parent_of.get(r.key)
            while key is not None:
                if key in seen:
                    self.error(
                        r.number,
                        "parent",
                        r.fields.get("parent_raw", ""),
                        gettext("上级单位形成了循环（A 的上级是 B，B 的上级又是 A），请检查。"),
                    )
                    break
                seen.add(key)
                key = parent_of.get(key)

    def build(self) -> None:
        self.plan = []
        for r in self.clean_rows:
            if r.number in self.bad_rows:
                continue
            old = self.existing.get(r.key)
            if old is None:
                self.plan.append(PlannedUnit(r, "create"))
                continue
            uid, _name, parent_id, region_id, short_name, kind, _path = old
            changes = {}
            current = {"short_name": short_name, "kind": kind, "region_id": region_id}
            for field in ("short_name", "kind", "region_id"):
                if field in r.fields and r.fields[field] != current[field]:
                    changes[field] = [current[field], r.fields[field]]
            if r.parent_key is not None:
                old_parent_key = norm_key(self.existing_by_id[parent_id][1]) if parent_id else ""
                if r.parent_key != old_parent_key:
                    changes["parent"] = [old_parent_key, r.parent_key]
            self.plan.append(PlannedUnit(r, "update" if changes else "unchanged", uid, changes))
        # Parents first: order by depth in the final tree.
        in_plan = {p.row.key: p for p in self.plan}

        def depth(p: PlannedUnit, guard: int = 0) -> int:
            key = p.row.parent_key
            if not key or key not in in_plan or guard > 200:
                return 0
            return 1 + depth(in_plan[key], guard + 1)

        self.plan.sort(key=lambda p: (depth(p), p.row.number))

    def counts(self) -> dict[str, int]:
        tally = {"create": 0, "update": 0, "unchanged": 0}
        for p in self.plan:
            tally[p.action] += 1
        return {"created": tally["create"], "updated": tally["update"], "unchanged": tally["unchanged"]}

    def preview_rows(self) -> list[dict]:
        labels = {"create": gettext("新增"), "update": gettext("更新"), "unchanged": gettext("无变化")}
        kinds = dict(UnitKind.choices)
        out = []
        for p in sorted(self.plan, key=lambda p: p.row.number)[:20]:
            f = p.row.fields
            out.append(
                {
                    "row": p.row.number,
                    "action": labels[p.action],
                    "action_code": p.action,
                    "name": p.row.name,
                    "short_name": f.get("short_name", ""),
                    "kind": str(kinds.get(f.get("kind"), "")),
                    "parent": f.get("parent_raw", ""),
                    "region": self.region_label.get(f.get("region_id"), ""),
                }
            )
        return out

    def save(self, *, actor, job: ImportJob | None) -> None:
        from jinshequ.units.services import unit_create, unit_update

        work = [p for p in self.plan if p.action != "unchanged"]
        total = len(work)
        self.progress("apply", 0, total)
        ids = {key: u[0] for key, u in self.existing.items()}
        for done, p in enumerate(work, start=1):
            f = p.row.fields
            fields: dict[str, Any] = {k: f[k] for k in ("short_name", "kind", "region_id") if k in f}
            if p.row.parent_key is not None:
                fields["parent_id"] = ids.get(p.row.parent_key) if p.row.parent_key else None
            if p.action == "create":
                unit = unit_create(actor=actor, name=p.row.name, **fields)
                ids[p.row.key] = unit.pk
            else:
                unit = WorkUnit.objects.select_related("parent").get(pk=p.unit_id)
                unit_update(unit=unit, actor=actor, **fields)
            if done % 100 == 0 or done == total:
                self.progress("apply", done, total)


def unit_template_notes() -> list[tuple[str, str]]:
    return [
        (
            "说明",
            "第一行是列名，请勿修改；列的顺序可以调整。每个单位一行，按单位名称识别：已有的单位会被更新。",
        ),
        ("说明", "上级单位可以是本文件中的另一行，系统会先导入上级单位。选填列留空时不会清除已有信息。"),
        ("单位类型", "、".join(str(label) for label in UnitKind.labels)),
    ]
