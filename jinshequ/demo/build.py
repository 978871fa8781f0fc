"""Build the demo city: regions, work units, members and one account per role.

The build is deterministic: everything is drawn from ``random.Random`` streams seeded from
``seed`` and ``scale``, and dates are computed from ``as_of`` (default: today), so the same seed,
scale and date give the same names, ID numbers and hashes. Ciphertexts differ between builds
(each encryption uses a fresh nonce); their plaintexts do not.

Speed (city scale, 77,000 members; at most 60 s on SQLite on 2 cores): everything is written in
one transaction; regions and units with ``bulk_create`` level by level, their ``path`` fields
computed here in the services' format; members and their skills, on SQLite, with a plain
``executemany`` INSERT (``_fast_insert``), because the ORM's per-value compilation costs more
than SQLite's own work (PostgreSQL keeps ``bulk_create``, which is faster there).
Encryption and blind indexes go through ``Member.set_id_number``/``set_phone``; pinyin is cached
per name. One summary audit row (``demo.built``) records the build instead of one per row.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from jinshequ.accounts.demo_accounts import DEMO_PASSWORD, DEMO_USERNAMES
from jinshequ.accounts.models import AuditEvent, Role, User
from jinshequ.accounts.services import audit
from jinshequ.core.idcard import make_id_number, make_phone
from jinshequ.core.pinyin import name_pinyin
from jinshequ.demo import geography as geo
from jinshequ.demo.load import Loader, analyze
from jinshequ.demo.names import random_name
from jinshequ.demo.reporting import build_reporting
from jinshequ.demo.service import build_service
from jinshequ.demo.units import CITY_SEAT, UnitSpec, unit_catalog
from jinshequ.members.models import Member, MemberStatus, PartyStatus, Skill
from jinshequ.regions.models import Region, RegionKind
from jinshequ.units.models import WorkUnit

DEFAULT_SEED = 20141124
BUILT_EVENT = "demo.built"


@dataclass(frozen=True)
class Scale:
    name: str
    members: int
    units: int


SCALES = {
    "small": Scale("small", members=400, units=30),
    "city": Scale("city", members=77_000, units=2_000),
}

# Skills that people of a unit kind often have (the rest are drawn at random).
KIND_SKILLS = {
    "hospital": ("医疗保健", "心理疏导"),
    "school": ("教育辅导", "文艺体育", "书法绘画"),
    "party_gov": ("政策宣讲", "法律咨询", "矛盾调解"),
    "institution": ("政策宣讲", "电脑网络"),
    "soe": ("水电维修", "家电维修", "驾驶", "治安巡逻"),
    "private": ("财会金融", "电脑网络", "烹饪"),
    "social": ("助老助残", "矛盾调解", "心理疏导"),
}
# How much more likely than average a member of a unit kind is to be a leading cadre.
CADRE_FACTOR = {
    "party_gov": 2.2,
    "institution": 1.3,
    "hospital": 0.8,
    "school": 0.8,
    "soe": 0.7,
    "private": 0.4,
    "social": 0.5,
    "other": 0.6,
}


@dataclass
class DemoAccount:
    username: str
    role: str
    scope: str
    display_name: str


@dataclass
class DemoResult:
    created: bool
    scale: str
    seed: int
    seconds: float
    counts: dict[str, int]
    accounts: list[DemoAccount] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per build step
    cpu_seconds: float = 0.0  # this process's CPU time: the wall time on an otherwise idle machine


# --- what is in the database ------------------------------------------------------------


def demo_info() -> dict | None:
    """The summary of the demo city in this database (``None`` when there is none)."""
    if not Region.objects.filter(kind=RegionKind.CITY, name=geo.CITY_NAME, parent=None).exists():
        return None
    if not User.objects.filter(username="city_admin").exists():
        return None
    row = AuditEvent.objects.filter(event=BUILT_EVENT).order_by("-id").first()
    info = dict(row.changes) if row else {}
    info.setdefault("members", Member.objects.count())
    return info


def database_is_empty() -> bool:
    return not (
        Region.objects.exists()
        or WorkUnit.objects.exists()
        or Member.objects.exists()
        or User.objects.exists()
    )


def demo_accounts() -> list[DemoAccount]:
    users = User.objects.filter(username__in=DEMO_USERNAMES).select_related("region", "work_unit")
    by_name = {u.username: u for u in users}
    out = []
    for username in DEMO_USERNAMES:
        user = by_name.get(username)
        if user is not None:
            out.append(
                DemoAccount(username, str(Role(user.role).label), _scope_label(user), user.display_name)
            )
    return out


def _scope_label(user: User) -> str:
    if user.role == Role.MEMBER:
        member = Member.objects.filter(user=user).select_related("community", "work_unit").first()
        return (
            f"本人（{member.community.name} · {member.work_unit.short_name or member.work_unit.name}）"
            if member
            else "本人"
        )
    if user.role == Role.UNIT_ADMIN and user.work_unit_id:
        return user.work_unit.name
    if user.region_id:
        return user.region.full_name() or user.region.name
    return ""


# --- generation ---------------------------------------------------------------------------


@dataclass
class _Community:
    region: Region
    district: geo.DistrictSpec
    street: str
    weight: float
    compounds: tuple[str, ...]


def _rng(seed: int, scale: str, stream: str) -> random.Random:
    return random.Random(f"jinshequ-demo:{seed}:{scale}:{stream}")


def _geography(scale: str) -> list[tuple[geo.DistrictSpec, list[tuple[str, int]]]]:
    if scale == "city":
        return [(d, list(d.streets)) for d in geo.DISTRICTS]
    out = []
    for d in geo.DISTRICTS:
        if d.name in geo.SMALL_STREETS:
            out.append((d, [(s, geo.SMALL_COMMUNITIES_PER_STREET) for s in geo.SMALL_STREETS[d.name]]))
    return out


def _build_regions(
    seed: int, scale: str
) -> tuple[Region, dict[str, Region], dict[str, Region], list[_Community]]:
    rng = _rng(seed, scale, "regions")
    layout = _geography(scale)
    city = Region.objects.create(
        name=geo.CITY_NAME,
        kind=RegionKind.CITY,
        code=geo.CITY_CODE,
        address="本溪市平山区胜利路 1 号",
        office_phone="024-42822000",
    )
    city.path = f"{city.pk}."
    city.save(update_fields=["path"])

    districts = Region.objects.bulk_create(
        [Region(name=d.name, kind=d.kind, parent=city, code=d.area_code, path="") for d, _ in layout]
    )
    for region in districts:
        region.path = f"{city.path}{region.pk}."
    by_district = {r.name: r for r in districts}

    street_rows = []
    for d, streets in layout:
        for i, (street, _) in enumerate(streets, start=1):
            street_rows.append(
                Region(
                    name=street,
                    kind=RegionKind.STREET,
                    parent=by_district[d.name],
                    code=f"{d.area_code}{i:03d}",
                    path="",
                    office_phone=f"024-4{rng.randrange(1000000, 9999999)}",
                )
            )
    street_rows = Region.objects.bulk_create(street_rows)
    for region in street_rows:
        region.path = f"{by_district[region.parent.name].path}{region.pk}."
    by_street = {(r.parent.name, r.name): r for r in street_rows}

    stems = list(geo.COMMUNITY_STEMS)
    rng.shuffle(stems)
    stem_iter = iter(stems)
    pending: list[tuple[Region, geo.DistrictSpec, str]] = []
    for d, streets in layout:
        for street, count in streets:
            parent = by_street[(d.name, street)]
            for j in range(1, count + 1):
                stem = next(stem_iter)
                region = Region(
                    name=f"{stem}社区",
                    kind=RegionKind.COMMUNITY,
                    parent=parent,
                    path="",
                    code=f"{parent.code}{j:03d}",
                    address=f"{parent.name}{stem}路 {rng.randrange(1, 200)} 号",
                    office_phone=f"024-4{rng.randrange(1000000, 9999999)}",
                )
                pending.append((region, d, street))
    created = Region.objects.bulk_create([p[0] for p in pending])
    communities = []
    for region, (_, d, street) in zip(created, pending, strict=True):
        region.path = f"{by_street[(d.name, street)].path}{region.pk}."
        stem = region.name.removesuffix("社区")
        compounds = (f"{stem}小区", *rng.sample(geo.COMPOUND_NAMES, 3))
        communities.append(_Community(region, d, street, rng.lognormvariate(0, 0.45), compounds))
    Region.objects.bulk_update([*districts, *street_rows, *created], ["path"], batch_size=500)
    return city, by_district, {f"{k[0]}/{k[1]}": v for k, v in by_street.items()}, communities


def _select_small_units(rng: random.Random, catalog: list[UnitSpec], target: int) -> list[UnitSpec]:
    by_key = {u.key: u for u in catalog}
    chosen: dict[str, UnitSpec] = {}

    def take(unit: UnitSpec) -> None:
        if unit.parent and unit.parent not in chosen:
            take(by_key[unit.parent])
        chosen.setdefault(unit.key, unit)

    for unit in catalog:
        if unit.featured:
            take(unit)
    rest = [u for u in catalog if u.key not in chosen and u.parent is None]
    rng.shuffle(rest)
    for unit in rest:
        if len(chosen) >= target:
            break
        take(unit)
    order = {u.key: i for i, u in enumerate(catalog)}
    return sorted(chosen.values(), key=lambda u: order[u.key])


def _build_units(
    seed: int, scale: Scale, by_district: dict[str, Region], by_street: dict[str, Region]
) -> list[tuple[WorkUnit, UnitSpec]]:
    rng = _rng(seed, scale.name, "units")
    layout = _geography(scale.name)
    streets = {d.name: [s for s, _ in ss] for d, ss in layout}
    catalog = unit_catalog(rng, [d for d, _ in layout], streets, list(geo.COMMUNITY_STEMS), total=scale.units)
    if scale.name == "small":
        catalog = _select_small_units(rng, catalog, scale.units)

    by_key: dict[str, WorkUnit] = {}
    pairs: list[tuple[WorkUnit, UnitSpec]] = []
    # Insert level by level so every parent has its id before its children are written.
    depth = {}
    for spec in catalog:
        depth[spec.key] = depth[spec.parent] + 1 if spec.parent else 0
    for level in range(max(depth.values()) + 1):
        rows = []
        for spec in catalog:
            if depth[spec.key] != level:
                continue
            region = by_street.get(f"{spec.district}/{spec.street}") if spec.street else None
            region = region or by_district[spec.district]
            unit = WorkUnit(
                name=spec.name,
                short_name=spec.short_name,
                kind=spec.kind,
                region=region,
                parent=by_key[spec.parent] if spec.parent else None,
                path="",
                region_path=region.path,
                party_org_name=f"中共{spec.name}{'委员会' if spec.weight >= 100 else '支部委员会'}"[:120],
            )
            rows.append((unit, spec))
        WorkUnit.objects.bulk_create([u for u, _ in rows], batch_size=1000)
        for unit, spec in rows:
            unit.path = f"{unit.parent.path if unit.parent else ''}{unit.pk}."
            by_key[spec.key] = unit
        pairs.extend(rows)
    WorkUnit.objects.bulk_update([u for u, _ in pairs], ["path"], batch_size=500)
    return pairs


def _pick(cum: list[float], rng: random.Random) -> int:
    return bisect.bisect_right(cum, rng.random() * cum[-1])


def _make_members(
    seed: int,
    scale: Scale,
    units: list[tuple[WorkUnit, UnitSpec]],
    communities: list[_Community],
    as_of: dt.date,
) -> list[Member]:
    rng = _rng(seed, scale.name, "members")
    skills = list(Skill.objects.filter(is_active=True).order_by("sort_order", "name"))
    skill_by_name = {s.name: s for s in skills}

    # Which unit each member works at: one each first (no empty unit), the rest by weight.
    weights = [spec.weight * rng.lognormvariate(0, 0.5) for _, spec in units]
    unit_cum = list(itertools.accumulate(weights))
    unit_idx = list(range(len(units)))[: scale.members]
    rng.shuffle(unit_idx)
    unit_idx += [_pick(unit_cum, rng) for _ in range(scale.members - len(unit_idx))]
    mean_factor = sum(CADRE_FACTOR.get(units[i][1].kind, 1.0) for i in unit_idx) / len(unit_idx)

    # Where they live: mostly near the unit (same street, else same district), else anywhere.
    all_cum = list(itertools.accumulate(c.weight for c in communities))
    by_district: dict[str, list[_Community]] = defaultdict(list)
    by_street: dict[tuple[str, str], list[_Community]] = defaultdict(list)
    for c in communities:
        by_district[c.district.name].append(c)
        by_street[(c.district.name, c.street)].append(c)
    district_cum = {k: list(itertools.accumulate(c.weight for c in v)) for k, v in by_district.items()}

    pinyin_cache: dict[str, tuple[str, str]] = {}
    used_ids: set[str] = set()
    used_phones: set[str] = set()
    members = []
    for i in unit_idx:
        unit, spec = units[i]
        roll = rng.random()
        near = by_street.get((spec.district, spec.street or ""))
        if near and roll < 0.35:
            community = rng.choice(near)
        elif roll < 0.8 and spec.district in by_district:
            pool = by_district[spec.district]
            community = pool[_pick(district_cum[spec.district], rng)]
        else:
            community = communities[_pick(all_cum, rng)]

        male = rng.random() < 0.58
        age_days = int(rng.triangular(23, 61, 44) * 365.25)
        birth = as_of - dt.timedelta(days=age_days)
        age = as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
        if age < 23 or age > 60:  # clamp the rare edge day
            birth = as_of.replace(year=as_of.year - 40, day=1)
            age = 40
        name = random_name(rng, male=male, birth_year=birth.year)
        while True:
            number = make_id_number(rng, area=community.district.area_code, birth=birth, male=male)
            if number not in used_ids:
                used_ids.add(number)
                break
        phone = ""
        if rng.random() < 0.97:
            while True:
                phone = make_phone(rng)
                if phone not in used_phones:
                    used_phones.add(phone)
                    break

        probationary = rng.random() < 0.05
        if probationary:
            joined = as_of - dt.timedelta(days=rng.randrange(20, 360))
        else:
            join_age = min(rng.triangular(19, max(age - 1, 20), 25), age - 1)
            joined = birth + dt.timedelta(days=int(join_age * 365.25))
        cadre = (
            age >= 28
            and not probationary
            and rng.random() < 0.08 * CADRE_FACTOR.get(spec.kind, 1.0) / mean_factor
        )
        left = rng.random() < 0.01
        building, entrance, floor, room = (
            rng.randrange(1, 40),
            rng.randrange(1, 7),
            rng.randrange(1, 19),
            rng.randrange(1, 5),
        )
        weekday_day, weekday_evening, weekend = rng.random() < 0.2, rng.random() < 0.55, rng.random() < 0.8
        if not (weekday_day or weekday_evening or weekend):
            weekend = True

        count = rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]
        chosen: list[Skill] = []
        typical = [skill_by_name[n] for n in KIND_SKILLS.get(spec.kind, ()) if n in skill_by_name]
        if count and typical and rng.random() < 0.6:
            chosen.append(rng.choice(typical))
        while len(chosen) < count and skills:
            pick = rng.choice(skills)
            if pick not in chosen:
                chosen.append(pick)

        member = Member(
            name=name,
            gender="M" if male else "F",
            birth_date=birth,
            work_unit_id=unit.pk,
            community_id=community.region.pk,
            address=f"{rng.choice(community.compounds)}{building}号楼{entrance}单元{floor}{room:02d}室",
            party_status=PartyStatus.PROBATIONARY if probationary else PartyStatus.FULL,
            is_leading_cadre=cadre,
            avail_weekday_day=weekday_day,
            avail_weekday_evening=weekday_evening,
            avail_weekend=weekend,
            joined_party_on=joined,
            status=MemberStatus.LEFT if left else MemberStatus.ACTIVE,
            left_on=as_of - dt.timedelta(days=rng.randrange(1, 300)) if left else None,
        )
        if name not in pinyin_cache:
            pinyin_cache[name] = name_pinyin(name)
        member.name_pinyin, member.name_initials = pinyin_cache[name]
        member.set_id_number(number)
        member.set_phone(phone)
        member._demo_skills = chosen  # written through the M2M table after the insert
        members.append(member)
    return members


def _column_writer(field, now):
    """How to turn one model field's Python value into a database parameter, decided once per field.

    Plain values (text, numbers, booleans, foreign-key ids) go through as they are; dates and
    times through the backend's own adapters; anything else through the field's full conversion.
    """
    ops = connection.ops
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        value = ops.adapt_datetimefield_value(now) if isinstance(field, models.DateTimeField) else now.date()
        return lambda obj: value
    attname = field.attname
    if isinstance(field, models.DateTimeField):
        return lambda obj: ops.adapt_datetimefield_value(getattr(obj, attname))
    if isinstance(field, models.DateField):
        return lambda obj: ops.adapt_datefield_value(getattr(obj, attname))
    if isinstance(
        field,
        (models.CharField, models.TextField, models.BooleanField, models.IntegerField, models.ForeignKey),
    ):
        return lambda obj: getattr(obj, attname)
    return lambda obj: field.get_db_prep_save(getattr(obj, attname), connection)


def _fast_insert(model, objs: list) -> None:
    """INSERT many rows; on SQLite without the ORM's per-value compilation, which costs more than
    SQLite's own work on a 77k-row ``bulk_create`` (one prepared INSERT run with ``executemany``).

    Elsewhere (PostgreSQL) ``bulk_create``'s multi-row INSERTs measured faster, so they are used.
    Primary keys are not read back on SQLite; callers look them up by a unique column.
    """
    if connection.vendor != "sqlite":
        model.objects.bulk_create(objs, batch_size=2000)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    writers = [_column_writer(f, now) for f in fields]
    qn = connection.ops.quote_name
    # Only model metadata (quoted) goes into the statement; every value is a parameter.
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objs), 5000):
            cursor.executemany(sql, [tuple(w(o) for w in writers) for o in objs[start : start + 5000]])


def _write_members(members: list[Member]) -> None:
    _fast_insert(Member, members)
    ids = dict(Member.objects.values_list("id_number_hash", "pk"))
    for member in members:
        member.pk = member.id = ids[member.id_number_hash]
        member._state.adding = False
    through = Member.skills.through
    _fast_insert(through, [through(member_id=m.pk, skill_id=s.pk) for m in members for s in m._demo_skills])


def _build_accounts(
    city: Region,
    by_district: dict[str, Region],
    by_street: dict[str, Region],
    communities: list[_Community],
    units: list[tuple[WorkUnit, UnitSpec]],
    members: list[Member],
) -> list[DemoAccount]:
    """One account per role, anchored so that the scopes overlap in an interesting way."""
    district = by_district.get(CITY_SEAT) or next(iter(by_district.values()))
    other_district = next(d for d in by_district.values() if d.pk != district.pk)
    street = next(r for r in by_street.values() if r.parent_id == district.pk)  # 站前街道
    active = [m for m in members if m.status == MemberStatus.ACTIVE and m.party_status == PartyStatus.FULL]
    per_community = Counter(m.community_id for m in active)

    def biggest(candidates: list[Region]) -> Region:
        return max(candidates, key=lambda r: (per_community[r.pk], -r.pk))

    community = biggest([c.region for c in communities if c.region.parent_id == street.pk])
    community_2 = biggest([c.region for c in communities if c.region.path.startswith(other_district.path)])

    unit_by_id = {u.pk: u for u, _ in units}
    in_community = Counter(m.work_unit_id for m in active if m.community_id == community.pk)
    unit = unit_by_id[max(in_community, key=lambda k: (in_community[k], -k))]
    member = next(m for m in active if m.community_id == community.pk and m.work_unit_id == unit.pk)
    member_2 = next(m for m in active if m.community_id == community_2.pk and m.work_unit_id != unit.pk)
    unit_2 = unit_by_id[member_2.work_unit_id]

    password = make_password(DEMO_PASSWORD)  # one hash (one salt) for all demo accounts: PBKDF2 is slow
    now = timezone.now()
    staff = (
        ("city_admin", Role.CITY_ADMIN, city, None, "李建华"),
        ("district_admin", Role.DISTRICT_ADMIN, district, None, "王振宇"),
        ("street_admin", Role.STREET_ADMIN, street, None, "赵淑珍"),
        ("community_admin", Role.COMMUNITY_ADMIN, community, None, "孙丽娟"),
        ("community_admin_2", Role.COMMUNITY_ADMIN, community_2, None, "周海燕"),
        ("unit_admin", Role.UNIT_ADMIN, None, unit, "刘志刚"),
        ("unit_admin_2", Role.UNIT_ADMIN, None, unit_2, "陈晓红"),
        ("inspector", Role.INSPECTOR, district, None, "张卫东"),
    )
    users = [
        User(
            username=username,
            role=role,
            region=region,
            work_unit=work_unit,
            display_name=display,
            password=password,
            password_changed_at=now,
        )
        for username, role, region, work_unit, display in staff
    ]
    for username, m in (("member", member), ("member_2", member_2)):
        users.append(
            User(
                username=username,
                role=Role.MEMBER,
                display_name=m.name,
                password=password,
                password_changed_at=now,
                phone_hash=m.phone_hash,
                phone_masked=m.phone_masked,
            )
        )
    User.objects.bulk_create(users)
    linked = {u.username: u for u in User.objects.filter(username__in=("member", "member_2"))}
    for username, m in (("member", member), ("member_2", member_2)):
        m.user = linked[username]
    Member.objects.bulk_update([member, member_2], ["user"])
    return demo_accounts()


@transaction.atomic
def build_demo(*, scale: str = "small", seed: int = DEFAULT_SEED, as_of: dt.date | None = None) -> DemoResult:
    """Create the demo city in an empty database (the caller checks that it is empty)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}")
    spec = SCALES[scale]
    as_of = as_of or timezone.localdate()
    started, cpu_started = time.perf_counter(), time.process_time()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        phases[name] = time.perf_counter() - started - sum(phases.values())

    city, by_district, by_street, communities = _build_regions(seed, scale)
    lap("regions")
    units = _build_units(seed, spec, by_district, by_street)
    lap("units")
    members = _make_members(seed, spec, units, communities, as_of)
    lap("members")
    _write_members(members)
    lap("write")
    accounts = _build_accounts(city, by_district, by_street, communities, units, members)
    lap("accounts")
    loader = Loader()
    world = build_reporting(
        seed=seed,
        scale=scale,
        as_of=as_of,
        members=members,
        lap=lap,
        loader=loader,
        communities=[c.region for c in communities],
        unit_ids=[u.pk for u, _ in units],
    )
    service_counts = build_service(world, seed=seed, scale=scale, loader=loader, lap=lap)
    loader.finish()
    analyze()
    lap("analyze")
    counts = {
        "regions": 1 + len(by_district) + len(by_street) + len(communities),
        "districts": len(by_district),
        "streets": len(by_street),
        "communities": len(communities),
        "units": len(units),
        "members": len(members),
        "member_skills": Member.skills.through.objects.count(),
        "accounts": len(accounts),
        **world.counts,
        **service_counts,
    }
    audit(
        event=BUILT_EVENT,
        actor=None,
        object_type="demo",
        object_id=scale,
        object_repr=f"演示城市（{scale}）",
        changes={"scale": scale, "seed": seed, "as_of": as_of.isoformat(), **counts},
    )
    from jinshequ.regions.selectors import regions_changed

    regions_changed()  # regions were bulk-inserted: no signals fired
    return DemoResult(
        created=True,
        scale=scale,
        seed=seed,
        seconds=time.perf_counter() - started,
        counts=counts,
        accounts=accounts,
        phases=phases,
        cpu_seconds=time.process_time() - cpu_started,
    )
