"""The members importer: the member columns and their cleaning and saving, on the engine in
``jinshequ.imports.services`` (registered there by ``MembersConfig.ready``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.access import Kind, kind_of
from jinshequ.accounts.models import AuditEvent
from jinshequ.accounts.services import _actor_fields, audit_bulk
from jinshequ.core import crypto
from jinshequ.core.bulk import RowInserter
from jinshequ.core.idcard import (
    id_birth_date,
    id_gender,
    mask_id_number,
    mask_phone,
    validate_id_number,
    validate_phone,
)
from jinshequ.core.logging import mask_text
from jinshequ.core.pinyin import name_pinyin
from jinshequ.imports.models import ImportJob
from jinshequ.imports.services import (
    _CJK_GAP,
    _SCIENTIFIC,
    APPLY_CHUNK,
    LOOKUP_CHUNK,
    NUMERIC_ID_MESSAGE,
    PREVIEW_ROWS,
    BaseImporter,
    Column,
    ProgressFn,
    SourceRow,
    cell_text,
    is_number,
    match_region_path,
    norm_key,
    parse_bool,
    parse_date,
    split_list,
    suggest,
)
from jinshequ.members.models import (
    ID_PURPOSE,
    PHONE_PURPOSE,
    Gender,
    Member,
    MemberStatus,
    PartyStatus,
    Skill,
    UnitChange,
)

MEMBER_COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", ("党员姓名", "名字"), required=True, note=_("最多 40 个字。"), width=10),
    Column("gender", "性别", (), note=_("男或女；可不填，按身份证号判断，填写时须与身份证号一致。"), width=6),
    Column(
        "birth_date",
        "出生日期",
        ("出生年月日", "生日"),
        note=_("可不填；填写时须与身份证号一致，如 1980-01-02。"),
        width=12,
    ),
    Column(
        "id_number",
        "身份证号",
        ("身份证号码", "公民身份号码", "身份证", "证件号码", "身份证件号码"),
        required=True,
        note=_("18 位，末位可为 X。请把这一列设为“文本”格式，否则 Excel 会把末几位变成 0。"),
        text_format=True,
        width=22,
    ),
    Column(
        "phone",
        "手机号",
        ("手机", "手机号码", "联系电话", "电话", "联系方式"),
        note=_("11 位手机号。"),
        text_format=True,
        width=14,
    ),
    Column(
        "unit",
        "所在单位",
        ("工作单位", "单位", "单位名称", "党员所在单位"),
        required=True,
        note=_("须与系统中的单位名称一致。"),
        width=24,
    ),
    Column(
        "community",
        "居住社区",
        ("所在社区", "社区", "报到社区", "居住地社区"),
        required=True,
        note=_("社区名称；有重名时写成“街道/社区”或“区/街道/社区”。"),
        width=22,
    ),
    Column(
        "address",
        "居住地址",
        ("家庭住址", "住址", "地址", "现住址", "家庭地址"),
        note=_("最多 200 个字。"),
        width=30,
    ),
    Column(
        "party_status",
        "党员状态",
        ("党员类别", "党籍状态", "党员身份"),
        note=_("正式或预备；不填视为正式党员。"),
        width=10,
    ),
    Column("is_leading_cadre", "是否领导干部", ("领导干部",), note=_("是或否；不填视为否。"), width=12),
    Column(
        "skills",
        "特长",
        ("个人特长", "专业特长"),
        note=_("须是系统中已有的特长，多个用顿号、逗号或分号分隔。"),
        width=20,
    ),
    Column(
        "availability",
        "可服务时间",
        ("服务时间", "可参加活动时间"),
        note=_("工作日白天、工作日晚上、周末，可组合，用顿号分隔。"),
        width=22,
    ),
    Column("joined_party_on", "入党日期", ("入党时间",), note=_("如 2005-07-01。"), width=12),
)

AVAILABILITY_WORDS = {
    "工作日白天": "avail_weekday_day",
    "白天": "avail_weekday_day",
    "工作日晚上": "avail_weekday_evening",
    "工作日晚间": "avail_weekday_evening",
    "晚上": "avail_weekday_evening",
    "周末": "avail_weekend",
    "双休日": "avail_weekend",
    "节假日": "avail_weekend",
    "周末节假日": "avail_weekend",
}
AVAILABILITY_FIELDS = ("avail_weekday_day", "avail_weekday_evening", "avail_weekend")
PARTY_WORDS = {
    "正式": PartyStatus.FULL,
    "正式党员": PartyStatus.FULL,
    "预备": PartyStatus.PROBATIONARY,
    "预备党员": PartyStatus.PROBATIONARY,
}
GENDER_WORDS = {"男": Gender.MALE, "女": Gender.FEMALE, "m": Gender.MALE, "f": Gender.FEMALE}
COMPARED_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "work_unit_id",
    "community_id",
    "address",
    "party_status",
    "is_leading_cadre",
    *AVAILABILITY_FIELDS,
    "joined_party_on",
)
PHONE_FIELDS = ("phone_enc", "phone_hash", "phone_masked", "phone_tail")


@dataclasses.dataclass
class MemberRow:
    number: int
    id_number: str
    id_hash: str
    fields: dict[str, Any]  # only what the row fills in (blank cells leave existing values alone)
    phone: str | None
    skills: frozenset[int] | None


@dataclasses.dataclass
class PlannedMember:
    row: MemberRow
    action: str  # "create" | "update" | "unchanged"
    member_id: int | None = None
    changes: dict[str, list] = dataclasses.field(default_factory=dict)
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    skills_changed: bool = False


class MemberImporter(BaseImporter):
    kind = ImportJob.Kind.MEMBERS
    label = "党员"
    columns = MEMBER_COLUMNS
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "gender": ("男", "女"),
        "party_status": ("正式", "预备"),
        "is_leading_cadre": ("是", "否"),
    }

    def __init__(self, *, user=None, progress: ProgressFn | None = None) -> None:
        super().__init__(user=user, progress=progress)
        self.clean_rows: list[MemberRow] = []
        self.existing: dict[str, dict] = {}
        self.existing_skills: dict[int, set[int]] = defaultdict(set)
        self.plan: list[PlannedMember] = []
        self._memo: dict[str, dict[str, tuple[Any, list[str]]]] = {}
        self._id_rows: list[tuple[int, str, str]] = []  # (row, id number, hash) of every valid ID

    # -- reference data -----------------------------------------------------------------
    def prepare(self) -> None:  # noqa: B027 - an optional hook: nothing to load by default
        from jinshequ.regions.models import Region, RegionKind
        from jinshequ.regions.selectors import community_choices, region_list_for_user
        from jinshequ.units.models import WorkUnit
        from jinshequ.units.selectors import unit_choices_for_user

        user = self.user
        self.today = timezone.localdate()
        units = list(WorkUnit.objects.values_list("id", "name", "short_name", "is_active"))
        self.unit_names = {uid: name for uid, name, _s, _a in units}
        self.unit_exact = {name: uid for uid, name, _s, _a in units}
        self.unit_active = {uid for uid, _n, _s, active in units if active}
        self.unit_by_key: dict[str, list[int]] = defaultdict(list)
        short: dict[str, list[int]] = defaultdict(list)
        for uid, name, short_name, _a in units:
            self.unit_by_key[norm_key(name)].append(uid)
            if short_name:
                short[norm_key(short_name)].append(uid)
        for key, ids in short.items():
            if key not in self.unit_by_key and len(ids) == 1:
                self.unit_by_key[key] = ids
        if user is None:
            self.unit_scope = set(self.unit_active)
        else:
            self.unit_scope = set(unit_choices_for_user(user).values_list("id", flat=True))

        regions = {
            r[0]: r for r in Region.objects.values_list("id", "name", "kind", "parent_id", "is_active")
        }
        self.community_label: dict[int, str] = {}
        self.community_active: set[int] = set()
        self.community_by_key: dict[str, set[int]] = defaultdict(set)
        self.community_ancestors: dict[int, set[str]] = {}
        for rid, name, kind, parent_id, active in regions.values():
            if kind != RegionKind.COMMUNITY:
                continue
            chain = [name]
            pid = parent_id
            while pid is not None and pid in regions and regions[pid][2] != RegionKind.CITY:
                chain.insert(0, regions[pid][1])
                pid = regions[pid][3]
            self.community_label[rid] = "/".join(chain)
            if pid in regions:  # a full name may start with the city: 本溪市平山区…社区
                chain.insert(0, regions[pid][1])
            self.community_ancestors[rid] = {norm_key(n) for n in chain[:-1]}
            if active:
                self.community_active.add(rid)
            for start in range(len(chain)):
                self.community_by_key[norm_key("".join(chain[start:]))].add(rid)
        kind = Kind.CITY if user is None else kind_of(user)
        if kind is Kind.CITY:
            self.community_scope = set(self.community_active)
        elif kind is Kind.UNIT:
            self.community_scope = set(community_choices().values_list("id", flat=True))
        else:
            self.community_scope = set(
                region_list_for_user(user)
                .filter(kind=RegionKind.COMMUNITY, is_active=True)
                .values_list("id", flat=True)
            )
        skills = list(Skill.objects.values_list("id", "name", "is_active"))
        self.skill_by_key = {norm_key(name): (sid, name, active) for sid, name, active in skills}
        self.skill_names = {sid: name for sid, name, _a in skills}
        self.active_skill_names = [name for _i, name, active in skills if active]

    def _lookup(self, key: str, row: int, raw: Any, resolve: Callable[[str], tuple[Any, list[str]]]):
        """Resolve a cell once per distinct text (a city file names the same units thousands of
        times); errors are still reported on every row that has them."""
        text = cell_text(raw)
        memo = self._memo.setdefault(key, {})
        if text not in memo:
            memo[text] = resolve(text)
        value, messages = memo[text]
        for message in messages:
            self.error(row, key, raw, message)
        return value

    def find_unit(self, row: int, raw: Any) -> int | None:
        return self._lookup("unit", row, raw, self._resolve_unit)

    def find_community(self, row: int, raw: Any) -> int | None:
        return self._lookup("community", row, raw, self._resolve_community)

    def find_skills(self, row: int, raw: Any) -> frozenset[int] | None:
        return self._lookup("skills", row, raw, self._resolve_skills)

    def _resolve_unit(self, text: str) -> tuple[int | None, list[str]]:
        ids = self.unit_by_key.get(norm_key(text), [])
        if len(ids) > 1:  # names that differ only in spaces or full-width characters
            ids = [self.unit_exact[text]] if text in self.unit_exact else ids
            if len(ids) > 1:
                names = gettext("、").join(sorted(self.unit_names[u] for u in ids)[:5])
                return None, [
                    gettext("有多个单位的名称与“%(text)s”相近（%(names)s），请照系统中的写法填写。")
                    % {"text": text, "names": names}
                ]
        if not ids:
            hint = suggest(text, (self.unit_names[u] for u in self.unit_scope))
            return None, [
                gettext("系统中没有名为“%(text)s”的单位。%(value)s")
                % {"text": text, "value": hint or gettext("请先添加该单位，或检查名称是否与系统中一致。")}
            ]
        uid = ids[0]
        if uid not in self.unit_active:
            return None, [gettext("单位“%(text)s”已停用，不能再导入党员。") % {"text": text}]
        if uid not in self.unit_scope:
            return None, [gettext("该单位不在您的管辖范围内。")]
        return uid, []

    def _resolve_community(self, text: str) -> tuple[int | None, list[str]]:
        ids = match_region_path(text, self.community_by_key, self.community_ancestors)
        if not ids:
            hint = suggest(text, (self.community_label[c].rsplit("/", 1)[-1] for c in self.community_scope))
            return None, [
                gettext("系统中没有名为“%(text)s”的社区。%(value)s")
                % {"text": text, "value": hint or gettext("请检查社区名称。")}
            ]
        if len(ids) > 1:
            options = gettext("、").join(sorted(self.community_label[c] for c in ids)[:5])
            return None, [
                gettext("有多个社区叫“%(text)s”（%(options)s），请写成“街道/社区”以便区分。")
                % {"text": text, "options": options}
            ]
        cid = ids.pop()
        if cid not in self.community_active:
            return None, [gettext("社区“%(text)s”已停用。") % {"text": text}]
        if cid not in self.community_scope:
            return None, [gettext("该社区不在您的管辖范围内。")]
        return cid, []

    def _resolve_skills(self, text: str) -> tuple[frozenset[int] | None, list[str]]:
        ids, messages = set(), []
        for word in split_list(text):
            found = self.skill_by_key.get(norm_key(word))
            if found is None:
                hint = suggest(word, self.active_skill_names)
                messages.append(
                    gettext("系统中没有“%(word)s”这项特长。%(value)s")
                    % {"word": word, "value": hint or gettext("请先在“特长”中添加，或删去该项。")}
                )
            elif not found[2]:
                messages.append(gettext("特长“%(value)s”已停用。") % {"value": found[1]})
            else:
                ids.add(found[0])
        return (None if messages else frozenset(ids)), messages

    # -- pass 1 ------------------------------------------------------------------------
    def clean_all(self) -> None:
        total = len(self.rows)
        for i, source in enumerate(self.rows, start=1):
            cleaned = self.clean_row(source)
            if cleaned is not None:
                self.clean_rows.append(cleaned)
            if i % 2000 == 0:
                self.progress("validate", i, total)
        self.progress("validate", total, total)
        rows_by_hash: dict[str, list[int]] = defaultdict(list)
        for number, _id, id_hash in self._id_rows:
            rows_by_hash[id_hash].append(number)
        for number, id_number, id_hash in self._id_rows:
            numbers = rows_by_hash[id_hash]
            if len(numbers) > 1:
                others = gettext("、").join(str(n) for n in numbers if n != number)
                self.error(
                    number,
                    "id_number",
                    id_number,
                    gettext("身份证号在文件中重复出现（另见第 %(others)s 行），每人只能有一行。")
                    % {"others": others},
                    mask="id",
                )

    def clean_row(self, source: SourceRow) -> MemberRow | None:  # noqa: C901 (one branch per column)
        v = source.values
        row = source.number
        errors_before = self.error_count
        fields: dict[str, Any] = {}

        name = _CJK_GAP.sub("", cell_text(v.get("name")))
        if not name:
            self.error(row, "name", "", gettext("请填写姓名。"))
        elif len(name) > 40:
            self.error(row, "name", name, gettext("姓名不能超过 40 个字。"))
        else:
            fields["name"] = name

        raw_id = v.get("id_number")
        number = ""
        if raw_id is None:
            self.error(row, "id_number", "", gettext("请填写身份证号。"))
        elif is_number(raw_id) or _SCIENTIFIC.match(cell_text(raw_id)):  # the latter: a CSV saved by Excel
            self.error(row, "id_number", raw_id, NUMERIC_ID_MESSAGE, mask="id")
        else:
            try:
                number = validate_id_number(cell_text(raw_id))
            except ValidationError as exc:
                self.error(row, "id_number", raw_id, exc.messages[0], mask="id")
        id_hash = ""
        if number:
            id_hash = crypto.blind_index(number, purpose=ID_PURPOSE)
            self._id_rows.append((row, number, id_hash))
            fields["gender"] = id_gender(number)
            fields["birth_date"] = id_birth_date(number)
            if "gender" in v:
                gender = GENDER_WORDS.get(cell_text(v["gender"]).lower())
                if gender is None:
                    self.error(row, "gender", v["gender"], gettext("性别只能填“男”或“女”。"))
                elif gender != fields["gender"]:
                    self.error(row, "gender", v["gender"], gettext("性别与身份证号不一致。"))
            if "birth_date" in v:
                try:
                    birth = parse_date(v["birth_date"])
                except ValueError:
                    self.error(
                        row,
                        "birth_date",
                        v["birth_date"],
                        gettext("日期格式不正确，应为 1980-01-02 这样的格式。"),
                    )
                else:
                    if birth != fields["birth_date"]:
                        self.error(
                            row,
                            "birth_date",
                            v["birth_date"],
                            gettext("出生日期与身份证号不一致（身份证号为 %(value)s）。")
                            % {"value": format(fields["birth_date"], "%Y-%m-%d")},
                        )

        phone = None
        if "phone" in v:
            raw_phone = v["phone"]
            try:
                phone = validate_phone(cell_text(raw_phone))
            except ValidationError as exc:
                self.error(row, "phone", raw_phone, exc.messages[0], mask="phone")

        if "unit" in v:
            unit_id = self.find_unit(row, v["unit"])
            if unit_id is not None:
                fields["work_unit_id"] = unit_id
        else:
            self.error(row, "unit", "", gettext("请填写所在单位。"))
        if "community" in v:
            community_id = self.find_community(row, v["community"])
            if community_id is not None:
                fields["community_id"] = community_id
        else:
            self.error(row, "community", "", gettext("请填写居住社区。"))

        if "address" in v:
            address = cell_text(v["address"])
            if len(address) > 200:
                self.error(row, "address", address, gettext("居住地址不能超过 200 个字。"))
            else:
                fields["address"] = address
        if "party_status" in v:
            status = PARTY_WORDS.get(cell_text(v["party_status"]))
            if status is None:
                self.error(row, "party_status", v["party_status"], gettext("党员状态只能填“正式”或“预备”。"))
            else:
                fields["party_status"] = status
        if "is_leading_cadre" in v:
            try:
                fields["is_leading_cadre"] = parse_bool(v["is_leading_cadre"])
            except ValueError:
                self.error(
                    row, "is_leading_cadre", v["is_leading_cadre"], gettext("是否领导干部只能填“是”或“否”。")
                )
        skills = None
        if "skills" in v:
            skills = self.find_skills(row, v["skills"])
        if "availability" in v:
            chosen = set()
            for word in split_list(v["availability"]):
                field = AVAILABILITY_WORDS.get(word)
                if field is None:
                    self.error(
                        row,
                        "availability",
                        v["availability"],
                        gettext(
                            "无法识别“%(word)s”。可服务时间只能是“工作日白天”“工作日晚上”“周末”，多个用顿号分隔。"
                        )
                        % {"word": word},
                    )
                    break
                chosen.add(field)
            else:
                for field in AVAILABILITY_FIELDS:
                    fields[field] = field in chosen
        if "joined_party_on" in v:
            try:
                joined = parse_date(v["joined_party_on"])
            except ValueError:
                self.error(
                    row,
                    "joined_party_on",
                    v["joined_party_on"],
                    gettext("日期格式不正确，应为 2005-07-01 这样的格式。"),
                )
            else:
                if joined > self.today:
                    self.error(
                        row, "joined_party_on", v["joined_party_on"], gettext("入党日期不能晚于今天。")
                    )
                elif number and joined < _add_years(fields["birth_date"], 18):
                    self.error(
                        row,
                        "joined_party_on",
                        v["joined_party_on"],
                        gettext("入党日期早于年满 18 周岁的日期，请核对。"),
                    )
                else:
                    fields["joined_party_on"] = joined
        if self.error_count != errors_before:
            return None
        return MemberRow(row, number, id_hash, fields, phone, skills)

    # -- checks against the database ---------------------------------------------------
    def check_existing(self) -> None:  # noqa: B027 - an optional hook: no database checks by default
        from jinshequ.members.selectors import member_list_for_user

        self.existing = {}
        self.existing_skills = defaultdict(set)
        hashes = [r.id_hash for r in self.clean_rows]
        wanted = ("id", "id_number_hash", "phone_hash", "phone_masked", "status", *COMPARED_FIELDS)
        in_scope: set[int] = set()
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            chunk = hashes[start : start + LOOKUP_CHUNK]
            for values in Member.objects.filter(id_number_hash__in=chunk).values(*wanted):
                self.existing[values["id_number_hash"]] = values
            if self.user is not None:
                in_scope.update(
                    member_list_for_user(self.user)
                    .filter(id_number_hash__in=chunk)
                    .values_list("id", flat=True)
                )
        if self.user is None:
            in_scope = {values["id"] for values in self.existing.values()}
        ids = [values["id"] for values in self.existing.values()]
        through = Member.skills.through
        for start in range(0, len(ids), LOOKUP_CHUNK):
            for member_id, skill_id in through.objects.filter(
                member_id__in=ids[start : start + LOOKUP_CHUNK]
            ).values_list("member_id", "skill_id"):
                self.existing_skills[member_id].add(skill_id)
        for cleaned in self.clean_rows:
            old = self.existing.get(cleaned.id_hash)
            if old is None:
                continue
            if old["id"] not in in_scope:
                self.error(
                    cleaned.number,
                    "id_number",
                    cleaned.id_number,
                    gettext("该身份证号已登记为您管辖范围以外的党员，不能通过导入修改，请联系上级管理员。"),
                    mask="id",
                )
            elif old["status"] == MemberStatus.MERGED:
                self.error(
                    cleaned.number,
                    "id_number",
                    cleaned.id_number,
                    gettext("该身份证号属于一条已合并的重复记录，不能通过导入修改，请联系管理员核对。"),
                    mask="id",
                )
            elif norm_key(old["name"]) != norm_key(cleaned.fields["name"]):
                self.error(
                    cleaned.number,
                    "id_number",
                    cleaned.id_number,
                    gettext("该身份证号已登记为另一名党员“%(value)s”，请核对身份证号或姓名。")
                    % {"value": old["name"]},
                    mask="id",
                )

    # -- pass 2 ------------------------------------------------------------------------
    def build(self) -> None:
        self.plan = []
        for cleaned in self.clean_rows:
            if cleaned.number in self.bad_rows:
                continue
            old = self.existing.get(cleaned.id_hash)
            if old is None:
                self.plan.append(PlannedMember(cleaned, "create"))
                continue
            changes: dict[str, list] = {}
            values: dict[str, Any] = {}
            for field, new in cleaned.fields.items():
                if old[field] != new:
                    changes[field] = [_audit_str(old[field]), _audit_str(new)]
                    values[field] = new
            if (
                cleaned.phone is not None
                and crypto.blind_index(cleaned.phone, purpose=PHONE_PURPOSE) != old["phone_hash"]
            ):
                changes["phone"] = [old["phone_masked"] or None, mask_phone(cleaned.phone)]
            skills_changed = (
                cleaned.skills is not None and set(cleaned.skills) != self.existing_skills[old["id"]]
            )
            if skills_changed:
                changes["skills"] = [
                    self._skill_label(self.existing_skills[old["id"]]),
                    self._skill_label(cleaned.skills),
                ]
            action = "update" if changes else "unchanged"
            self.plan.append(PlannedMember(cleaned, action, old["id"], changes, values, skills_changed))

    def _skill_label(self, ids: Iterable[int]) -> str:
        return gettext("、").join(sorted(self.skill_names[i] for i in ids))

    def counts(self) -> dict[str, int]:
        tally = {"create": 0, "update": 0, "unchanged": 0}
        for item in self.plan:
            tally[item.action] += 1
        return {"created": tally["create"], "updated": tally["update"], "unchanged": tally["unchanged"]}

    def preview_rows(self) -> list[dict]:
        out = []
        labels = {"create": gettext("新增"), "update": gettext("更新"), "unchanged": gettext("无变化")}
        for item in self.plan[:PREVIEW_ROWS]:
            r = item.row
            out.append(
                {
                    "row": r.number,
                    "action": labels[item.action],
                    "action_code": item.action,
                    "name": r.fields["name"],
                    "gender": str(Gender(r.fields["gender"]).label),
                    "id_number": mask_id_number(r.id_number),
                    "phone": mask_phone(r.phone) if r.phone else "",
                    "unit": self.unit_names.get(r.fields.get("work_unit_id"), ""),
                    "community": self.community_label.get(r.fields.get("community_id"), ""),
                    "party_status": str(PartyStatus(r.fields["party_status"]).label)
                    if "party_status" in r.fields
                    else "",
                    "changes": gettext("、").join(_FIELD_LABELS.get(k, k) for k in item.changes)
                    if item.action == "update"
                    else "",
                }
            )
        return out

    # -- pass 3 ------------------------------------------------------------------------
    def save(self, *, actor, job: ImportJob | None) -> None:
        """Write the plan in chunks; the caller holds the transaction.

        New members go in through ``insert_rows`` (one ``executemany`` per chunk, values adapted by
        the model's own field metadata) because ``bulk_create`` costs about ten times the raw insert
        for a model this wide; ids are then read back by the unique ID hash. Audit rows go through
        ``audit_bulk``.
        """
        now = timezone.now()
        today = timezone.localdate()
        work = [p for p in self.plan if p.action != "unchanged"]
        total = len(work)
        self.progress("apply", 0, total)
        actor_fields = _actor_fields(actor)
        actor_fields["actor_id"] = getattr(actor_fields.pop("actor"), "pk", None)  # cheaper than the instance
        if actor is None:
            actor_fields["actor_name"] = "system:import"
        audit_base = {
            "created_at": now,
            "ip": job.ip if job else "",
            "request_id": job.request_id if job else "",
            "object_type": "members.member",
            "success": True,
            "reason": f"导入 #{job.pk}" if job else "命令行导入",
            **actor_fields,
        }
        through = Member.skills.through
        member_insert = RowInserter(Member)
        link_insert = RowInserter(through)
        done = 0
        for start in range(0, total, APPLY_CHUNK):
            chunk = work[start : start + APPLY_CHUNK]
            creates = [p for p in chunk if p.action == "create"]
            updates = [p for p in chunk if p.action == "update"]
            events: list[AuditEvent] = []
            links: list[dict] = []
            if creates:
                member_insert.insert([self._new_member_values(p.row, now) for p in creates])
                ids = {}
                hashes = [p.row.id_hash for p in creates]
                for i in range(0, len(hashes), LOOKUP_CHUNK):
                    ids.update(
                        Member.objects.filter(id_number_hash__in=hashes[i : i + LOOKUP_CHUNK]).values_list(
                            "id_number_hash", "id"
                        )
                    )
                for p in creates:
                    p.member_id = ids[p.row.id_hash]
                    links.extend(
                        {"member_id": p.member_id, "skill_id": s} for s in sorted(p.row.skills or ())
                    )
                    events.append(
                        AuditEvent(
                            event="member.created",
                            object_id=str(p.member_id),
                            object_repr=mask_text(p.row.fields["name"]),
                            **audit_base,
                            changes={
                                "name": [None, p.row.fields["name"]],
                                "id_number": [None, mask_id_number(p.row.id_number)],
                            },
                        )
                    )
            if updates:
                self._update_members(updates, now, today, actor)
                reskilled = [p.member_id for p in updates if p.skills_changed]
                if reskilled:
                    through.objects.filter(member_id__in=reskilled).delete()
                for p in updates:
                    if p.skills_changed:
                        links.extend({"member_id": p.member_id, "skill_id": s} for s in sorted(p.row.skills))
                    events.append(
                        AuditEvent(
                            event="member.updated",
                            object_id=str(p.member_id),
                            object_repr=mask_text(p.row.fields["name"]),
                            changes=p.changes,
                            **audit_base,
                        )
                    )
            if links:
                link_insert.insert(links)
            audit_bulk(events)
            done += len(chunk)
            self.progress("apply", done, total)

    def _new_member_values(self, r: MemberRow, now: dt.datetime) -> dict[str, Any]:
        """Column values of a new member, exactly what ``Member.set_id_number``/``set_phone`` store."""
        f = r.fields
        pinyin, initials = name_pinyin(f["name"])
        values = {
            "name": f["name"],
            "name_pinyin": pinyin,
            "name_initials": initials,
            "gender": f["gender"],
            "birth_date": f["birth_date"],
            "work_unit_id": f["work_unit_id"],
            "community_id": f["community_id"],
            "address": f.get("address", ""),
            "party_status": f.get("party_status", PartyStatus.FULL),
            "is_leading_cadre": f.get("is_leading_cadre", False),
            "joined_party_on": f.get("joined_party_on"),
            "status": MemberStatus.ACTIVE,
            "created_at": now,
            "updated_at": now,
            "id_number_enc": crypto.encrypt(r.id_number, purpose=ID_PURPOSE),
            "id_number_hash": r.id_hash,
            "id_number_masked": mask_id_number(r.id_number),
            "id_tail": r.id_number[-4:],
        }
        if "avail_weekend" in f:
            for field in AVAILABILITY_FIELDS:
                values[field] = f[field]
        if r.phone:
            values.update(
                phone_enc=crypto.encrypt(r.phone, purpose=PHONE_PURPOSE),
                phone_hash=crypto.blind_index(r.phone, purpose=PHONE_PURPOSE),
                phone_masked=mask_phone(r.phone),
                phone_tail=r.phone[-4:],
            )
        return values

    def _update_members(self, updates: list[PlannedMember], now: dt.datetime, today: dt.date, actor) -> None:
        by_fields: dict[tuple[str, ...], list[Member]] = defaultdict(list)
        moves = []
        for p in updates:
            member = Member(pk=p.member_id, updated_at=now)
            fields = ["updated_at"]
            for field, value in p.values.items():
                setattr(member, field, value)
                fields.append(field)
            if "name" in p.values:
                member.name_pinyin, member.name_initials = name_pinyin(p.values["name"])
                fields += ["name_pinyin", "name_initials"]
            if "phone" in p.changes:
                member.set_phone(p.row.phone or "")
                fields += list(PHONE_FIELDS)
            if "work_unit_id" in p.values:
                old_unit = self.existing[p.row.id_hash]["work_unit_id"]
                moves.append(
                    UnitChange(
                        member_id=p.member_id,
                        from_unit_id=old_unit,
                        to_unit_id=p.values["work_unit_id"],
                        changed_on=today,
                        changed_by=actor if getattr(actor, "pk", None) else None,
                    )
                )
            if len(fields) > 1:
                by_fields[tuple(fields)].append(member)
        for fields, members in by_fields.items():
            Member.objects.bulk_update(members, list(fields), batch_size=500)
        if moves:
            UnitChange.objects.bulk_create(moves, batch_size=1000)


_FIELD_LABELS = {
    "name": "姓名",
    "gender": "性别",
    "birth_date": "出生日期",
    "work_unit_id": "所在单位",
    "community_id": "居住社区",
    "address": "居住地址",
    "party_status": "党员状态",
    "is_leading_cadre": "领导干部",
    "avail_weekday_day": "可服务时间",
    "avail_weekday_evening": "可服务时间",
    "avail_weekend": "可服务时间",
    "joined_party_on": "入党日期",
    "phone": "手机号",
    "skills": "特长",
}


def _audit_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def member_template_notes() -> list[tuple[str, str]]:
    skills = "、".join(Skill.objects.filter(is_active=True).values_list("name", flat=True))
    return [
        ("说明", "第一行是列名，请勿修改；列的顺序可以调整，不需要的选填列可以删除。每位党员一行。"),
        (
            "说明",
            "按身份证号识别党员：系统中已有的党员会被更新，没有的会被新增；重复导入同一文件不会产生重复记录。",
        ),
        ("说明", "选填列留空时，不会清除系统中已有的信息。"),
        ("可选特长", skills or "（暂无）"),
    ]
