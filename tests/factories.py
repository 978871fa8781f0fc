"""Build test state through the same services users trigger. Every ID number and phone made here
is a canary: leak tests search responses, exports, logs and dumps for these exact values."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from jinshequ.accounts.models import Role, User
from jinshequ.core.idcard import make_id_number, make_phone
from jinshequ.members.models import Member
from jinshequ.members.services import member_create
from jinshequ.regions.models import Region, RegionKind
from jinshequ.regions.services import region_create
from jinshequ.units.models import WorkUnit
from jinshequ.units.services import unit_create

PASSWORD = "Test-Passw0rd!"
CANARY_IDS: set[str] = set()
CANARY_PHONES: set[str] = set()
_rng = random.Random(20261124)


def new_id_number(birth: dt.date | None = None, male: bool = True) -> str:
    while True:
        birth = birth or dt.date(1970 + _rng.randrange(30), 1 + _rng.randrange(12), 1 + _rng.randrange(28))
        number = make_id_number(_rng, area="210502", birth=birth, male=male)
        if number not in CANARY_IDS:
            CANARY_IDS.add(number)
            return number


def new_phone() -> str:
    while True:
        phone = make_phone(_rng)
        if phone not in CANARY_PHONES:
            CANARY_PHONES.add(phone)
            return phone


def make_region(name, kind, parent=None) -> Region:
    return region_create(name=name, kind=kind, parent=parent, actor=None)


def make_unit(name, region=None, parent=None) -> WorkUnit:
    return unit_create(name=name, region=region, parent=parent, actor=None)


def make_member(name, unit, community, *, male=True, phone=True, **extra) -> Member:
    number = new_id_number(male=male)
    from jinshequ.core.idcard import id_birth_date

    return member_create(
        actor=None,
        name=name,
        id_number=number,
        phone=new_phone() if phone else "",
        gender="M" if male else "F",
        birth_date=id_birth_date(number),
        work_unit=unit,
        community=community,
        address="幸福路 8 号 3 单元 501",
        **extra,
    )


def make_user(username, role, *, region=None, unit=None, member=None) -> User:
    user = User(username=username, role=role, region=region, work_unit=unit, display_name=username)
    user.set_password(PASSWORD)
    user.save()
    if member is not None:
        member.user = user
        member.save(update_fields=["user"])
    return user


@dataclass
class Side:
    district: Region
    street: Region
    community: Region
    unit: WorkUnit
    members: list[Member]
    users: dict[str, User] = field(default_factory=dict)


@dataclass
class World:
    city: Region
    a: Side
    b: Side
    city_admin: User

    def users(self):
        yield "city_admin", self.city_admin
        for side_name, side in (("a", self.a), ("b", self.b)):
            for role, user in side.users.items():
                yield f"{role}_{side_name}", user


def build_world() -> World:
    """Two districts, each with a street, a community, a unit, three members and one user per role."""
    city = make_region("测试市", RegionKind.CITY)
    sides = []
    for tag, (dname, sname, cname, uname, people) in {
        "a": ("东城区", "东风街道", "东风社区", "市财政局", ("张伟", "王芳", "单晓明")),
        "b": ("西城区", "西湖街道", "西湖社区", "市教育局", ("李娜", "刘洋", "曾国强")),
    }.items():
        district = make_region(dname, RegionKind.DISTRICT, city)
        street = make_region(sname, RegionKind.STREET, district)
        community = make_region(cname, RegionKind.COMMUNITY, street)
        unit = make_unit(uname, region=district)
        members = [make_member(n, unit, community, male=i != 1) for i, n in enumerate(people)]
        side = Side(district, street, community, unit, members)
        side.users = {
            "district_admin": make_user(f"district_{tag}", Role.DISTRICT_ADMIN, region=district),
            "street_admin": make_user(f"street_{tag}", Role.STREET_ADMIN, region=street),
            "community_admin": make_user(f"community_{tag}", Role.COMMUNITY_ADMIN, region=community),
            "unit_admin": make_user(f"unit_{tag}", Role.UNIT_ADMIN, unit=unit),
            "inspector": make_user(f"inspector_{tag}", Role.INSPECTOR, region=district),
            "member": make_user(f"member_{tag}", Role.MEMBER, member=members[0]),
        }
        sides.append(side)
    city_admin = make_user("city", Role.CITY_ADMIN, region=city)
    return World(city=city, a=sides[0], b=sides[1], city_admin=city_admin)


def make_campaign(**extra):
    """A current campaign covering today (report-in is refused outside a campaign)."""
    import datetime as _dt

    from django.utils import timezone

    from jinshequ.campaigns.models import Campaign

    today = timezone.localdate()
    fields = {
        "name": f"{today.year}年在职党员进社区",
        "starts_on": today - _dt.timedelta(days=30),
        "ends_on": today + _dt.timedelta(days=300),
        "report_deadline": today + _dt.timedelta(days=30),
        "is_current": True,
    }
    fields.update(extra)
    return Campaign.objects.create(**fields)


def build_crawl_world() -> World:
    """``build_world`` plus one object of every kind the URL crawler needs on each side
    (tests/test_access_matrix.py), on ``side.extra``:

    - ``subunit``: a unit in the street under the side's unit (every unit-viewing role sees it);
    - member 0 (the member user) registered at the office in the side's community, with a pending
      request to a second community (``own_pending``); member 1's pending request to the side's
      community (``pending``); an exemption for member 2 (``exemption``);
    - a post, member 0's claim on it, a service team member 0 joined, a household (its phone is a
      canary) paired with member 0: ``post``, ``claim``, ``team``, ``household``, ``pairing``.
    Plus ``world.campaign`` (current) and ``world.category`` (a post category).
    """
    import datetime as _dt

    from django.utils import timezone

    from jinshequ.members.reporting import exemption_set, registration_register_at_office, registration_submit

    world = build_world()
    world.campaign = make_campaign()
    posts = _posts_services()
    world.category = posts.category_create(name="爬虫测试类别", actor=world.city_admin) if posts else None
    for tag, side in (("a", world.a), ("b", world.b)):
        admin, member_user = side.users["community_admin"], side.users["member"]
        sub = unit_create(name=f"{side.unit.name}{tag}科室", region=side.street, parent=side.unit, actor=None)
        second = make_region(f"{side.community.name}二", RegionKind.COMMUNITY, side.street)
        registration_register_at_office(member=side.members[0], community=side.community, actor=admin)
        own_pending = registration_submit(member=side.members[0], community=second, actor=member_user)
        pending = registration_submit(member=side.members[1], community=side.community, actor=admin)
        exemption = exemption_set(
            member=side.members[2],
            reason=_first_exemption_reason(),
            valid_until=timezone.localdate() + _dt.timedelta(days=60),
            note="外派",
            actor=side.users["unit_admin"],
        )
        side.extra = {
            "subunit": sub,
            "second_community": second,
            "own_pending": own_pending,
            "pending": pending,
            "exemption": exemption,
        }
        if posts:
            post = posts.post_create(
                community=side.community,
                category=world.category,
                title=f"{tag}楼道宣传",
                capacity=3,
                starts_on=timezone.localdate(),
                actor=admin,
            )
            claim = posts.claim_create(member=side.members[0], post=post, actor=member_user)
            team = posts.team_create(community=side.community, name=f"{tag}志愿服务队", actor=admin)
            posts.team_join(team=team, member=side.members[0], actor=member_user)
            household = posts.household_create(
                community=side.community,
                head_name=f"{tag}困难户",
                address="幸福路 9 号 2 单元 101",
                phone=new_phone(),
                actor=admin,
            )
            pairing = posts.pairing_create(household=household, member=side.members[0], actor=admin)
            side.extra.update(post=post, claim=claim, team=team, household=household, pairing=pairing)
            _add_crawl_activity(side, team)
    return world


def _add_crawl_activity(side, team) -> None:
    """Member 0 leads the side's team; the team's ``activity`` starts in 10 minutes (its check-in is open)
    and member 0 signed up for it (``signup``)."""
    import datetime as _dt

    from django.utils import timezone

    from jinshequ.activities import services as acts
    from jinshequ.posts import services as posts

    admin = side.users["community_admin"]
    posts.team_update(team=team, leader=side.members[0], actor=admin)
    now = timezone.now()
    activity = acts.activity_create(
        community=side.community,
        category=side.extra["post"].category,
        title=f"{team.name}清扫楼道",
        place="社区党群服务中心",
        capacity=5,
        team=team,
        starts_at=now + _dt.timedelta(minutes=10),
        ends_at=now + _dt.timedelta(hours=2),
        actor=admin,
    )
    signup = acts.signup_create(activity=activity, member=side.members[0], actor=side.users["member"])
    side.extra.update(activity=activity, signup=signup)


def _posts_services():
    try:
        from jinshequ.posts import services
    except ImportError:  # the posts app is not installed
        return None
    return services


def _first_exemption_reason() -> str:
    from jinshequ.members.models import ExemptionReason

    return ExemptionReason.values[0]
