"""The demo city's service data (issue 4): posts and claims, service teams, households and pairing,
a year of activities with sign-ups and check-ins, service records, and the 四个一 / 十个有 checklists.

At city scale: ~50,000 activities, ~500,000 sign-ups, ~1,000,000 service records (about a third from
attendance, the rest logged by members); the small scale is the same in proportion to its members.

Rows are written directly (``load.Loader``), keeping every invariant the services keep:

- posts: ``claimed`` = pending + active claims ≤ capacity; open claims only on active posts and only by
  members registered (confirmed) in the post's community; ≤ ``campaign.max_active_posts`` open claims per
  member; pending claims only where the community does not auto-approve;
- teams, pairings: open ones only for members registered in that community; a leader is a current member;
  households' address and phone encrypted with the purposes of ``posts.services.household_create``;
- activities: ``signed_up`` = signed + attended + no-show sign-ups ≤ capacity; a waiting list only on a full
  activity that has not started; cancelled activities hold no open sign-up; ended activities are closed
  (no-shows marked) by the time the nightly job would have run; attendance only for attended sign-ups,
  check-in within the window, check-out after check-in;
- service records: ``month`` = yyyymm of ``served_on``; hours 0.5–24 in half hours; never more than 24 h
  per member and day; never before the member's (current) confirmed registration; never on or after
  ``as_of``; one record per member and activity, only for attended sign-ups (evidence 3 after a
  check-out, 2 when the community confirmed the attendance); logged records mostly verified (evidence 2),
  some pending, some rejected with a reason, some confirmed by the resident (evidence 4, with its used
  resident code).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from operator import itemgetter

from jinshequ.accounts.models import Notification
from jinshequ.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    EvidenceLevel,
    RecordStatus,
    ResidentCode,
    ServiceRecord,
    Signup,
    SignupStatus,
)
from jinshequ.activities.services import grace
from jinshequ.core import crypto
from jinshequ.core.idcard import make_phone, mask_phone
from jinshequ.demo.load import DAY, FastRandom, Loader
from jinshequ.demo.names import random_name
from jinshequ.demo.reporting import ReportWorld
from jinshequ.members.models import Member, MemberStatus, Skill
from jinshequ.posts.models import (
    ClaimStatus,
    CommunitySettings,
    Household,
    Pairing,
    Post,
    PostCategory,
    PostClaim,
    Schedule,
    ServiceTeam,
    TeamMembership,
)
from jinshequ.posts.services import ADDRESS_PURPOSE, PHONE_PURPOSE
from jinshequ.supervision.models import ChecklistItem, ChecklistMark, ChecklistScope

# At city scale (77,000 members): per year.
ACTIVITIES_PER_MEMBER = 50_000 / 77_000
RECORDS_PER_MEMBER = 1_000_000 / 77_000
CLAIMERS = 0.70  # share of registered members holding a post
AUTO_APPROVE = 0.3  # share of communities approving claims automatically
MAX_DAY_HOURS = 12  # what a member plausibly does in a day (the services' hard limit is 24)

# category → posts: (title, description, skills wanted)
POSTS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "政策宣传": (
        ("政策宣讲员", "在楼院和党群服务中心宣讲党的政策和惠民政策，解答居民疑问。", ("政策宣讲",)),
        ("理论学习辅导员", "协助社区党组织开展理论学习，辅导居民党员学习。", ("政策宣讲", "教育辅导")),
    ),
    "环境整治": (
        ("楼院环境监督员", "巡查楼道堆物、小广告和卫生死角，督促整改。", ("环境保护",)),
        ("垃圾分类督导员", "在投放点指导居民分类投放，记录问题。", ("环境保护",)),
    ),
    "治安巡逻": (
        ("平安巡逻队员", "在重点时段巡查小区，发现隐患及时报告。", ("治安巡逻",)),
        ("夜间巡防员", "晚间巡查楼院和停车场，提醒关好门窗。", ("治安巡逻", "驾驶")),
    ),
    "文体活动": (
        ("文艺活动组织员", "组织广场舞、合唱等文体活动。", ("文艺体育",)),
        ("书画培训辅导员", "为居民讲授书法绘画。", ("书法绘画",)),
        ("活动摄影记录员", "为社区活动拍照、整理影像资料。", ("摄影摄像",)),
    ),
    "法律咨询": (
        ("法律咨询员", "定期在社区坐班，为居民提供法律咨询。", ("法律咨询",)),
        ("普法宣传员", "开展普法讲座，宣传与居民生活相关的法律知识。", ("法律咨询", "政策宣讲")),
    ),
    "医疗健康": (
        ("健康义诊志愿者", "为居民测量血压血糖，宣传健康知识。", ("医疗保健",)),
        ("心理疏导员", "为有需要的居民提供心理疏导和陪伴。", ("心理疏导",)),
    ),
    "助老助残": (
        ("助老服务员", "探望独居老人，帮助代购、代办。", ("助老助残",)),
        ("家电义务维修员", "为困难家庭义务维修家电和水电。", ("家电维修", "水电维修")),
    ),
    "矛盾调解": (
        ("邻里调解员", "调解邻里纠纷，化解矛盾。", ("矛盾调解",)),
        ("物业纠纷协调员", "协调居民与物业之间的纠纷。", ("矛盾调解", "法律咨询")),
    ),
    "教育辅导": (
        ("四点半课堂辅导员", "放学后辅导孩子完成作业。", ("教育辅导",)),
        ("青少年科普辅导员", "为青少年开展科普和电脑网络知识辅导。", ("教育辅导", "电脑网络")),
    ),
    "其他": (
        ("网格信息员", "协助网格员采集和更新楼院信息。", ("电脑网络",)),
        ("便民服务员", "参与便民服务日活动，为居民办实事。", ("烹饪", "驾驶")),
        ("居务公开监督员", "监督社区财务和居务公开。", ("财会金融",)),
    ),
}
SCHEDULES = (
    (Schedule.WEEKDAY_EVENING.value, 30),
    (Schedule.WEEKEND.value, 35),
    (Schedule.WEEKDAY_DAY.value, 10),
    (Schedule.FLEXIBLE.value, 25),
)
TEAMS = (
    ("法律援助服务队", "法律咨询"),
    ("志愿服务队", "其他"),
    ("助老助残服务队", "助老助残"),
    ("平安巡逻队", "治安巡逻"),
    ("文艺宣传队", "文体活动"),
    ("健康服务队", "医疗健康"),
    ("环境整治突击队", "环境整治"),
    ("邻里调解队", "矛盾调解"),
    ("政策宣讲队", "政策宣传"),
    ("学业辅导队", "教育辅导"),
)
ACTIVITY_TITLES: dict[str, tuple[str, ...]] = {
    "政策宣传": ("惠民政策宣讲会", "党的创新理论进楼院", "民法典宣传日", "反诈宣传进社区"),
    "环境整治": ("楼道清理日", "垃圾分类宣传督导", "小区环境集中整治", "清理小广告行动"),
    "治安巡逻": ("夜间平安巡逻", "节前安全隐患排查", "消防安全检查", "平安小区巡查"),
    "文体活动": ("社区广场舞展演", "邻里文化节", "书法进社区", "老年合唱排练", "社区趣味运动会"),
    "法律咨询": ("法律咨询坐班", "普法讲座", "以案说法进社区"),
    "医疗健康": ("健康义诊", "测血压血糖", "健康知识讲座", "急救知识培训"),
    "助老助残": ("探访独居老人", "为老人理发", "助残帮扶日", "家电义务维修"),
    "矛盾调解": ("邻里纠纷调解", "物业问题协调会", "居民议事会"),
    "教育辅导": ("四点半课堂", "暑期青少年托管", "科普小课堂", "家庭教育讲座"),
    "其他": ("便民服务日", "党员志愿服务日", "社区共建座谈会"),
}
PLACES = ("社区党群服务中心", "社区活动室", "社区广场", "党员活动室", "社区会议室", "小区中心花园")
RECORD_TEXTS: dict[str, tuple[str, ...]] = {
    "政策宣传": ("在楼院宣讲养老保险新政策", "向居民发放惠民政策明白纸", "入户讲解医保缴费办法"),
    "环境整治": ("清理楼道杂物和小广告", "在投放点督导垃圾分类", "清扫小区绿化带垃圾"),
    "治安巡逻": ("晚间小区治安巡逻", "排查楼道消防隐患", "提醒居民关好门窗、看管电动车"),
    "文体活动": ("组织居民排练广场舞", "为社区活动拍照记录", "辅导老人练习书法"),
    "法律咨询": ("为居民解答继承纠纷法律问题", "帮居民起草租房合同", "解答劳动合同问题"),
    "医疗健康": ("为老人测量血压、登记健康档案", "陪同独居老人复诊", "讲解慢病用药常识"),
    "助老助残": ("为独居老人代购药品", "陪伴空巢老人聊天", "帮残疾居民办理补贴", "为困难家庭维修水管"),
    "矛盾调解": ("调解邻里漏水纠纷", "协调停车位矛盾", "调解楼上楼下噪音纠纷"),
    "教育辅导": ("辅导困难家庭孩子功课", "在四点半课堂辅导作业", "为中学生讲解数学"),
    "其他": ("协助网格员更新楼院信息", "参加社区便民服务日", "帮居民网上办理业务"),
}
REJECT_RECORD = (
    "服务日期与社区活动安排不符，请核实后重新填报。",
    "服务内容过于简略，请补充做了什么、为谁服务。",
    "同一事项已由活动签到记录，请勿重复填报。",
    "时长与实际情况不符，请按实际时长填报。",
)
WITHDRAW_REASONS = (
    "工作调整，时间冲突",
    "单位出差较多，无法按时到岗",
    "身体原因，暂时退出",
    "改为认领更适合的岗位",
)
END_REASONS = ("岗位调整，服务期满", "长期未到岗，经沟通结束认领", "岗位合并")
CLAIM_REJECT = ("该岗位需要相关专业资格", "名额已安排，请认领其他岗位", "服务时间与岗位要求不符")
SITUATIONS = (
    ("独居老人，行动不便", "定期探望、代购生活用品"),
    ("低保户，子女在外地", "帮助申请救助、节日慰问"),
    ("重病患者家庭", "陪同就医、联系医疗救助"),
    ("残疾人家庭", "协助办理残疾人补贴、上门服务"),
    ("困难单亲家庭", "辅导孩子功课、就业信息"),
    ("失业困难家庭", "提供就业信息、技能培训"),
)
SUGGESTIONS = (
    "建议在小区增设电动车集中充电桩",
    "建议楼道加装声控照明灯",
    "建议增设老年人休息座椅",
    "建议开设四点半课堂",
    "建议定期公布物业费收支",
    "建议在小区门口增设减速带",
    "建议每月组织一次便民服务日",
    "建议整治小区停车秩序",
)
RATINGS = ("satisfied", "satisfied", "satisfied", "basic")


@dataclass
class _Post:
    pk: int
    community_id: int
    category_id: int
    category: str
    title: str
    schedule: str
    skills: set[int]
    capacity: int
    starts: int
    active: bool
    claimed: int = 0


@dataclass
class _Community:
    pk: int
    name: str
    members: list[int]  # registered (confirmed) active members, by confirmation date
    since: list[int]  # their confirmation days (ordinals), ascending
    admin: int | None
    auto: bool = False
    posts: list[_Post] = field(default_factory=list)
    teams: list[tuple[int, int, str]] = field(default_factory=list)  # (team id, category id, category name)
    team_members: dict[int, list[int]] = field(default_factory=dict)


def _rng(seed: int, scale: str, stream: str) -> random.Random:
    return FastRandom(f"jinshequ-demo:{seed}:{scale}:{stream}")


def _hours_text(hours: float) -> str:
    return f"{hours:.1f}"


def _half_hours(seconds: int) -> float:
    """Like ``activities.services.half_hours``: to the nearest half hour, a quarter rounding up."""
    return int((max(0, seconds) + 900) // 1800) / 2


class _Service:
    def __init__(self, world: ReportWorld, *, seed: int, scale: str, loader: Loader) -> None:
        self.w = world
        self.seed, self.scale = seed, scale
        self.load = loader
        self.today = world.as_of.toordinal()
        self.anchor = world.anchor
        self.by_id = {m.pk: m for m in world.members}
        self.categories = {c.name: c.pk for c in PostCategory.objects.all()}
        self.category_names = {pk: name for name, pk in self.categories.items()}
        self.skill_ids = {s.name: s.pk for s in Skill.objects.all()}
        self.max_posts = world.campaign.max_active_posts
        self.demo, self.demo_2 = world.demo_member, world.demo_member_2
        grouped: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for mid, (community_id, day) in world.registered.items():
            if self.by_id[mid].status == MemberStatus.ACTIVE:
                grouped[community_id].append((day, mid))
        self.communities: list[_Community] = []
        for region in world.communities:
            rows = sorted(grouped.get(region.pk, []))
            self.communities.append(
                _Community(
                    region.pk,
                    region.name,
                    [m for _, m in rows],
                    [d for d, _ in rows],
                    world.admin_of.get(region.pk),
                )
            )
        self.since = {mid: day for mid, (_, day) in world.registered.items()}
        self.claims_of: dict[int, list[_Post]] = defaultdict(list)  # open claims, for record categories
        # service records as (created, member, community, category, activity, served day, hours, text, people,
        # status, evidence, verified by, verified at, reject reason, resident rating or None)
        self.records: list[tuple] = []
        self.day_hours: dict[int, dict[int, float]] = defaultdict(dict)  # member → day → hours recorded
        self.counts: dict[str, int] = {}
        self.notes: list[tuple] = []

    def office(self, rng: random.Random, day: int) -> int:
        return day * DAY + rng.randrange(8 * 3600 + 1800, 17 * 3600 + 1800)

    def evening(self, rng: random.Random, day: int) -> int:
        return day * DAY + rng.randrange(18 * 3600, 22 * 3600 + 1800)

    def notify(
        self, member: Member, kind: str, title: str, body: str, link: str, created: int, read: int | None
    ) -> None:
        ts = self.load.ts
        self.notes.append(
            (member.pk, member.user_id, kind, title, body, link, ts(created), ts(read), "log", "")
        )

    # --- posts and claims ----------------------------------------------------------------------

    def posts_and_claims(self) -> None:
        rng = _rng(self.seed, self.scale, "posts")
        ts, day = self.load.ts, self.load.day
        campaign, previous = self.w.campaign, self.w.previous
        c_start, p_start = campaign.starts_on.toordinal(), previous.starts_on.toordinal()
        settings_rows, post_rows, skill_rows, claim_rows = [], [], [], []
        menu = [(cat, spec) for cat, specs in POSTS.items() for spec in specs]
        demo_community = self.demo.community_id
        for c in self.communities:
            c.auto = (rng.random() < AUTO_APPROVE) if c.pk not in self.w.admin_of else c.pk != demo_community
            settings_rows.append((c.pk, c.auto))
            # Who claims, and how many places: decided first, so the capacities can hold them.
            eligible = [m for m, d in zip(c.members, c.since, strict=True) if d < self.today - 2]
            claimers = [m for m in eligible if rng.random() < CLAIMERS or m in (self.demo.pk, self.demo_2.pk)]
            wants = {m: (2 if rng.random() < 0.35 or m == self.demo.pk else 1) for m in claimers}
            need = sum(wants.values())
            n_posts = rng.randint(5, 15)
            picks = rng.sample(menu, n_posts)
            base = [rng.randint(2, 10) for _ in picks]
            factor = max(1, math.ceil(need * 1.2 / sum(base)))
            first_id = self.load.ids(Post, n_posts + 1)
            for i, ((cat, (title, text, skills)), cap) in enumerate(zip(picks, base, strict=True)):
                r = rng.random()
                starts = c_start if r < 0.7 else p_start if r < 0.9 else c_start + rng.randint(10, 120)
                starts = min(starts, self.today - 3)
                ends = campaign.ends_on if rng.random() < 0.3 else None
                schedule = rng.choices([s for s, _ in SCHEDULES], weights=[w for _, w in SCHEDULES])[0]
                post = _Post(
                    first_id + i,
                    c.pk,
                    self.categories[cat],
                    cat,
                    title,
                    schedule,
                    {self.skill_ids[s] for s in skills if s in self.skill_ids},
                    min(999, cap * factor),
                    starts,
                    True,
                )
                c.posts.append(post)
                post_rows.append(
                    [
                        post.pk,
                        c.pk,
                        post.category_id,
                        title,
                        text,
                        schedule,
                        post.capacity,
                        0,
                        day(starts),
                        day(ends.toordinal()) if ends else None,
                        True,
                        c.admin,
                        ts(self.office(rng, starts - rng.randint(1, 10))),
                    ]
                )
                skill_rows.extend((post.pk, s) for s in sorted(post.skills))
            if rng.random() < 0.15:  # a post the community stopped: its claims ended
                cat, (title, text, skills) = rng.choice(menu)
                stopped = _Post(
                    first_id + n_posts,
                    c.pk,
                    self.categories[cat],
                    cat,
                    f"{title}（试点）",
                    Schedule.FLEXIBLE.value,
                    set(),
                    rng.randint(2, 6),
                    p_start,
                    False,
                )
                post_rows.append(
                    [
                        stopped.pk,
                        c.pk,
                        stopped.category_id,
                        stopped.title,
                        text,
                        stopped.schedule,
                        stopped.capacity,
                        0,
                        day(p_start),
                        day(c_start - 1),
                        False,
                        c.admin,
                        ts(self.office(rng, p_start - 5)),
                    ]
                )
                for m in eligible[: stopped.capacity]:
                    t = self.evening(rng, max(self.since[m], p_start) + rng.randint(1, 20))
                    if t // DAY < c_start - 2:
                        claim_rows.append(
                            (
                                stopped.pk,
                                m,
                                ClaimStatus.ENDED.value,
                                ts(t),
                                ts(t + DAY),
                                c.admin,
                                ts(self.office(rng, c_start - 1)),
                                "岗位停用：试点期满",
                            )
                        )
            free = list(c.posts)
            for m in claimers:
                member = self.by_id[m]
                mine: list[_Post] = []
                for _ in range(min(wants[m], self.max_posts)):
                    options = [p for p in rng.sample(free, min(5, len(free))) if p not in mine]
                    if not options:
                        break
                    post = max(options, key=lambda p: self.fit(member, p, rng))
                    mine.append(post)
                    if post.claimed + 1 >= post.capacity:
                        free.remove(post)
                for k, post in enumerate(mine):
                    start = max(self.since[m], post.starts) + 1
                    pending = not c.auto and (rng.random() < 0.08 or (m == self.demo.pk and k == 1))
                    if pending:
                        created = self.evening(rng, max(start, self.today - rng.randint(1, 25)))
                        if created // DAY >= self.today:
                            continue
                        claim_rows.append(
                            (post.pk, m, ClaimStatus.PENDING.value, ts(created), None, None, None, "")
                        )
                    else:
                        created = self.evening(rng, start + int((self.today - 1 - start) * rng.random() ** 2))
                        decided = (
                            created
                            if c.auto
                            else min(self.office(rng, created // DAY + rng.randint(1, 4)), self.anchor - 3600)
                        )
                        if created // DAY >= self.today or decided < created:
                            continue
                        claim_rows.append(
                            (
                                post.pk,
                                m,
                                ClaimStatus.ACTIVE.value,
                                ts(created),
                                ts(decided),
                                None if c.auto else c.admin,
                                None,
                                "",
                            )
                        )
                        self.claims_of[m].append(post)
                        if m == self.demo.pk:
                            self.notify(
                                member,
                                "posts.claim_approved",
                                "岗位认领已通过",
                                f"您认领的岗位“{post.title}”已通过社区审核。",
                                "/posts/",
                                decided + 60,
                                decided + 7200,
                            )
                    post.claimed += 1
                # History: some gave a post up, a few were ended or turned down.
                r = rng.random()
                if (r < 0.12 or m == self.demo.pk) and c.posts:
                    post = rng.choice(c.posts)
                    start = max(self.since[m], post.starts) + 1
                    if start < self.today - 30:
                        created = self.evening(rng, start + rng.randint(0, 10))
                        decided = created + DAY
                        ended = self.evening(rng, min(self.today - 2, created // DAY + rng.randint(20, 120)))
                        if r < 0.06 or m == self.demo.pk:
                            claim_rows.append(
                                (
                                    post.pk,
                                    m,
                                    ClaimStatus.WITHDRAWN.value,
                                    ts(created),
                                    ts(decided),
                                    c.admin,
                                    ts(ended),
                                    rng.choice(WITHDRAW_REASONS),
                                )
                            )
                        elif r < 0.09:
                            claim_rows.append(
                                (
                                    post.pk,
                                    m,
                                    ClaimStatus.ENDED.value,
                                    ts(created),
                                    ts(decided),
                                    c.admin,
                                    ts(ended),
                                    rng.choice(END_REASONS),
                                )
                            )
                        else:
                            claim_rows.append(
                                (
                                    post.pk,
                                    m,
                                    ClaimStatus.REJECTED.value,
                                    ts(created),
                                    ts(decided),
                                    c.admin,
                                    None,
                                    rng.choice(CLAIM_REJECT),
                                )
                            )
        claimed = {p.pk: p.claimed for c in self.communities for p in c.posts}
        for row in post_rows:
            row[7] = claimed.get(row[0], 0)
        load = self.load
        load.write(CommunitySettings, ("community_id", "auto_approve_claims"), settings_rows)
        load.write(
            Post,
            (
                "id",
                "community_id",
                "category_id",
                "title",
                "description",
                "schedule",
                "capacity",
                "claimed",
                "starts_on",
                "ends_on",
                "is_active",
                "created_by_id",
                "created_at",
            ),
            [tuple(r) for r in post_rows],
        )
        load.write(Post.skills.through, ("post_id", "skill_id"), skill_rows)
        load.write(
            PostClaim,
            (
                "post_id",
                "member_id",
                "status",
                "created_at",
                "decided_at",
                "decided_by_id",
                "ended_at",
                "end_reason",
            ),
            claim_rows,
        )
        self.counts.update(posts=len(post_rows), claims=len(claim_rows))

    def fit(self, member: Member, post: _Post, rng: random.Random) -> float:
        score = rng.random()
        if post.skills and post.skills & {s.pk for s in member._demo_skills}:
            score += 3
        schedule = post.schedule
        if (
            schedule == Schedule.FLEXIBLE.value
            or (schedule == Schedule.WEEKEND.value and member.avail_weekend)
            or (schedule == Schedule.WEEKDAY_EVENING.value and member.avail_weekday_evening)
            or (schedule == Schedule.WEEKDAY_DAY.value and member.avail_weekday_day)
        ):
            score += 2
        return score

    # --- teams, households, pairing ------------------------------------------------------------

    def teams_and_households(self) -> None:
        rng = _rng(self.seed, self.scale, "teams")
        ts, day = self.load.ts, self.load.day
        p_start = self.w.previous.starts_on.toordinal()
        team_rows, member_rows, household_rows, pairing_rows = [], [], [], []
        for c in self.communities:
            if not c.members:
                continue
            n = len(c.members)
            names = rng.sample(TEAMS, rng.randint(2, 3))
            first = self.load.ids(ServiceTeam, len(names))
            for i, (name, cat) in enumerate(names):
                team_id, created = first + i, self.office(rng, p_start + rng.randint(0, 200))
                size = min(n, max(5, int(n * rng.uniform(0.05, 0.15))))
                crew = rng.sample(c.members, size)
                if i == 0 and self.demo.pk in c.members and self.demo.pk not in crew:
                    crew[0] = self.demo.pk
                if i == 0 and self.demo_2.pk in c.members and self.demo_2.pk not in crew:
                    crew[-1] = self.demo_2.pk
                current = []
                for m in crew:
                    joined = self.evening(rng, max(self.since[m], created // DAY) + rng.randint(1, 60))
                    if joined // DAY >= self.today:
                        continue
                    left = None
                    if m not in (self.demo.pk, self.demo_2.pk) and rng.random() < 0.05:
                        left = self.evening(rng, min(self.today - 1, joined // DAY + rng.randint(30, 200)))
                        if left <= joined:
                            left = None
                    member_rows.append((team_id, m, ts(joined), ts(left)))
                    if left is None:
                        current.append(m)
                leader = self.demo.pk if self.demo.pk in current else (current[0] if current else None)
                c.teams.append((team_id, self.categories[cat], cat))
                c.team_members[team_id] = current
                team_rows.append(
                    (
                        team_id,
                        c.pk,
                        name,
                        f"{c.name}{name}，由在职党员组成，定期开展服务。",
                        self.categories[cat],
                        leader,
                        True,
                        ts(created),
                    )
                )
            n_households = rng.randint(3, 10)
            first = self.load.ids(Household, n_households)
            stem = c.name.removesuffix("社区")
            for i in range(n_households):
                hid = first + i
                male = rng.random() < 0.5
                head = random_name(rng, male=male, birth_year=rng.randint(1935, 1985))
                address = (
                    f"{stem}小区{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元"
                    f"{rng.randint(1, 7)}{rng.randint(1, 4):02d}室"
                )
                phone = make_phone(rng)
                situation, needs = rng.choice(SITUATIONS)
                closed = rng.random() < 0.05
                created = self.office(rng, p_start + rng.randint(0, 300))
                household_rows.append(
                    (
                        hid,
                        c.pk,
                        head,
                        crypto.encrypt(address, purpose=ADDRESS_PURPOSE),
                        crypto.encrypt(phone, purpose=PHONE_PURPOSE),
                        mask_phone(phone),
                        situation,
                        needs,
                        not closed,
                        ts(created),
                    )
                )
                helpers = rng.sample(c.members, min(len(c.members), rng.randint(1, 2)))
                if i == 0 and self.demo.pk in c.members and self.demo.pk not in helpers:
                    helpers[0] = self.demo.pk
                for m in helpers:
                    started = max(self.since[m], created // DAY) + rng.randint(1, 30)
                    if started >= self.today:
                        continue
                    ended = None
                    if closed:
                        ended = min(self.today - 1, started + rng.randint(30, 200))
                    elif m != self.demo.pk and rng.random() < 0.08:  # an earlier helper handed over
                        earlier_end = min(self.today - 1, started + rng.randint(30, 200))
                        other = rng.choice(c.members)
                        if other not in helpers and earlier_end > started:
                            pairing_rows.append(
                                (hid, other, day(started), day(earlier_end), "工作调动，已交接")
                            )
                    pairing_rows.append(
                        (
                            hid,
                            m,
                            day(started),
                            day(ended) if ended else None,
                            "每月至少上门探望一次" if ended is None else "家庭情况好转，结束帮扶",
                        )
                    )
                    if m == self.demo.pk:
                        t = self.office(rng, started)
                        self.notify(
                            self.demo,
                            "posts.pairing_created",
                            "结对帮扶",
                            "社区已为您安排结对帮扶的困难家庭，请在“结对家庭”中查看。",
                            "/posts/households/mine/",
                            t,
                            t + 3600,
                        )
        load = self.load
        load.write(
            ServiceTeam,
            (
                "id",
                "community_id",
                "name",
                "description",
                "category_id",
                "leader_id",
                "is_active",
                "created_at",
            ),
            team_rows,
        )
        load.write(TeamMembership, ("team_id", "member_id", "joined_at", "left_at"), member_rows)
        load.write(
            Household,
            (
                "id",
                "community_id",
                "head_name",
                "address_enc",
                "phone_enc",
                "phone_masked",
                "situation",
                "needs",
                "is_active",
                "created_at",
            ),
            household_rows,
        )
        load.write(Pairing, ("household_id", "member_id", "started_on", "ended_on", "note"), pairing_rows)
        self.counts.update(
            teams=len(team_rows),
            team_members=len(member_rows),
            households=len(household_rows),
            pairings=len(pairing_rows),
        )

    # --- activities, sign-ups, attendance, activity records ------------------------------------

    def activities(self) -> None:
        rng = _rng(self.seed, self.scale, "activities")
        ts = self.load.ts
        total = round(len(self.w.members) * ACTIVITIES_PER_MEMBER)
        registered = sum(len(c.members) for c in self.communities) or 1
        first_day, last_day = self.today - 365, self.today + 20
        grace_s = int(grace().total_seconds())
        demo_c = next(c for c in self.communities if c.pk == self.demo.community_id)

        # 1. What happens when: (created, starts, ends, community, category, post, team, place, title).
        plans = []
        for c in self.communities:
            if not c.members:
                continue
            n = max(4, round(total * len(c.members) / registered))
            for _ in range(n):
                d = rng.randint(first_day, last_day)
                weekday = dt.date.fromordinal(d).weekday()
                if weekday >= 5:
                    start = rng.choice((9 * 60, 9 * 60 + 30, 14 * 60, 14 * 60 + 30))
                elif rng.random() < 0.7:
                    start = rng.choice((18 * 60 + 30, 19 * 60))
                else:
                    start = rng.choice((9 * 60, 14 * 60 + 30))
                length = rng.choice((60, 90, 120, 120, 150, 180, 240))
                plans.append(self._plan(rng, c, d * DAY + start * 60, length * 60))
        # The demo member's next days: an activity tonight and tomorrow morning, and a full one with a waiting list.
        today_act = self._plan(rng, demo_c, self.today * DAY + 19 * 3600, 2 * 3600, category="治安巡逻")
        tomorrow_act = self._plan(
            rng, demo_c, (self.today + 1) * DAY + 9 * 3600, int(2.5 * 3600), category="助老助残"
        )
        full_act = self._plan(
            rng, demo_c, (self.today + 3) * DAY + 14 * 3600 + 1800, 2 * 3600, category="医疗健康", capacity=10
        )
        plans += [today_act, tomorrow_act, full_act]
        plans.sort(key=lambda p: (p[0], p[3].pk))
        first_id = self.load.ids(Activity, len(plans))

        weights = {m.pk: rng.lognormvariate(0, 0.8) for m in self.w.members}
        weights[self.demo.pk] = 8.0
        pools = {}
        for c in self.communities:
            cum, total_w = [], 0.0
            for m in c.members:
                total_w += weights[m]
                cum.append(total_w)
            pools[c.pk] = (c.members, c.since, cum)

        busy: dict[int, set[int]] = defaultdict(set)
        activity_rows, signup_rows, attendance_rows = [], [], []
        records, day_hours = self.records, self.day_hours
        signup_id = self.load.ids(Signup, 0)
        anchor = self.anchor
        SIGNED, WAIT, CANCELLED = (
            SignupStatus.SIGNED.value,
            SignupStatus.WAITLISTED.value,
            SignupStatus.CANCELLED.value,
        )
        ATTENDED, NO_SHOW = SignupStatus.ATTENDED.value, SignupStatus.NO_SHOW.value
        VERIFIED, QR, COMMUNITY = (
            RecordStatus.VERIFIED.value,
            EvidenceLevel.VENUE_QR.value,
            EvidenceLevel.COMMUNITY.value,
        )
        HOLDS = (SIGNED, ATTENDED, NO_SHOW)
        demo_pk, today = self.demo.pk, self.today
        since_of, random = self.since, rng.random
        texts: dict[str, str] = {}
        specials = {today_act[1]: "today", tomorrow_act[1]: "tomorrow", full_act[1]: "full"}
        for i, (created, starts, ends, c, cat_id, post_id, team_id, place, title, capacity) in enumerate(
            plans
        ):
            aid = first_id + i
            d = starts // DAY
            special = specials.get(starts) if c is demo_c else None
            ended = ends <= anchor
            closed = ends + grace_s + 60 + int(3540 * random()) if ended else None
            if closed is not None and closed > anchor:
                closed = None
            cancelled = special is None and random() < 0.015
            members, since, cum = pools[c.pk]
            n_elig = bisect_left(since, d)
            chosen: list[int] = []
            if n_elig:
                total_w = cum[n_elig - 1]
                want = min(capacity, n_elig, max(1, round(rng.lognormvariate(2.2, 0.5))))
                if special == "full" or (starts > anchor and not cancelled and random() < 0.25):
                    want = min(n_elig, capacity + rng.randint(2, 6))  # popular: a waiting list
                seen = set()
                if special in ("today", "tomorrow") and demo_pk in members[:n_elig]:
                    chosen.append(demo_pk)
                    seen.add(demo_pk)
                tries = 0
                while len(chosen) < want and tries < want * 4:
                    tries += 1
                    m = members[bisect_right(cum, random() * total_w, 0, n_elig - 1)]
                    if m in seen or d in busy[m] or (special and m == demo_pk):
                        continue
                    seen.add(m)
                    chosen.append(m)
            # Sign-ups in the order they came in: the first ``capacity`` holding ones get places, later ones wait.
            latest = min(starts - 3600, anchor - 60)
            entries = []
            for m in chosen:
                earliest = max(created, since_of[m] * DAY + DAY + 8 * 3600)
                if earliest < latest:
                    entries.append((earliest + int((latest - earliest) * random()), m))
            entries.sort()
            if special == "full":
                others = [e for e in entries if e[1] != demo_pk]
                if demo_pk in members[:n_elig] and len(others) >= capacity:
                    at = others[capacity - 1][0]
                    after = others[capacity][0] if len(others) > capacity else latest
                    others.insert(capacity, ((at + after) // 2, demo_pk))  # first on the waiting list
                entries = others
            signed_up = 0
            text = texts.get(title)
            if text is None:
                text = texts[title] = f"参加活动：{title}"[:300]
            for s_created, m in entries:
                busy[m].add(d)
                sid = signup_id
                signup_id += 1
                cancelled_at = reminded = None
                if cancelled:
                    status = CANCELLED
                    cancelled_at = max(s_created + 60, min(starts - 2 * DAY, anchor - 60))
                elif signed_up >= capacity:
                    status = WAIT
                elif special is None and random() < 0.08:
                    status = CANCELLED
                    cancelled_at = s_created + int((min(starts, anchor) - 600 - s_created) * random())
                    if cancelled_at <= s_created:
                        status, cancelled_at = SIGNED, None
                elif not ended:
                    status = SIGNED
                else:
                    status = ATTENDED if random() < 0.85 else NO_SHOW
                    if status == NO_SHOW and closed is None:
                        status = SIGNED
                if status in HOLDS:
                    signed_up += 1
                    if d == today and status == SIGNED:
                        reminded = max((today - 1) * DAY + 18 * 3600, s_created + 60)
                signup_rows.append((sid, aid, m, status, ts(s_created), ts(cancelled_at), ts(reminded)))
                if status != ATTENDED:
                    continue
                checked_in = starts - 1200 + int(2100 * random())
                out = ends - 900 + int(2100 * random()) if random() < 0.88 else None
                if out is not None and out > anchor:
                    out = None
                by_card = random() < 0.2
                attendance_rows.append(
                    (
                        sid,
                        ts(checked_in),
                        ts(out),
                        "card" if by_card else "qr",
                        "" if by_card else f"{rng.getrandbits(96):024x}",
                    )
                )
                hours = None
                if out is not None:
                    checked = min(out - checked_in, ends - starts)
                    if checked >= 900:
                        hours = min(_half_hours(checked), 24.0)
                        records.append(
                            (out, m, c.pk, cat_id, aid, d, hours, text, 0, VERIFIED, QR, None, out, "", None)
                        )
                elif random() < 0.75:
                    confirmed = self.office(rng, ends // DAY + 1)
                    if confirmed < anchor:
                        hours = min(max(_half_hours(ends - starts), 0.5), 24.0)
                        records.append(
                            (
                                confirmed,
                                m,
                                c.pk,
                                cat_id,
                                aid,
                                d,
                                hours,
                                text,
                                0,
                                VERIFIED,
                                COMMUNITY,
                                c.admin,
                                confirmed,
                                "",
                                None,
                            )
                        )
                if hours is not None:
                    mine = day_hours[m]
                    mine[d] = mine.get(d, 0.0) + hours
            status = ActivityStatus.CANCELLED.value if cancelled else ActivityStatus.PUBLISHED.value
            activity_rows.append(
                (
                    aid,
                    c.pk,
                    title,
                    cat_id,
                    post_id,
                    team_id,
                    place,
                    f"{c.name}组织在职党员开展{title}活动，欢迎报名参加。",
                    ts(starts),
                    ts(ends),
                    capacity,
                    0 if cancelled else signed_up,
                    status,
                    f"{rng.getrandbits(128):032x}",
                    c.admin,
                    ts(created),
                    ts(closed),
                )
            )
            if special == "today":
                self.notify(
                    self.demo,
                    "activities.reminder",
                    "活动提醒",
                    f"您报名的活动“{title}”今天 19:00 开始，地点：{place}。到场后请扫码签到。",
                    f"/activities/{aid}/",
                    (self.today - 1) * DAY + 18 * 3600,
                    None,
                )
        self.load.ids(Signup, signup_id - self.load.ids(Signup, 0))
        load = self.load
        load.write(
            Activity,
            (
                "id",
                "community_id",
                "title",
                "category_id",
                "post_id",
                "team_id",
                "place",
                "description",
                "starts_at",
                "ends_at",
                "capacity",
                "signed_up",
                "status",
                "checkin_secret",
                "created_by_id",
                "created_at",
                "closed_at",
            ),
            activity_rows,
        )
        with load.without_indexes(Signup):
            load.write(
                Signup,
                ("id", "activity_id", "member_id", "status", "created_at", "cancelled_at", "reminded_at"),
                signup_rows,
            )
        load.write(
            Attendance, ("signup_id", "checked_in_at", "checked_out_at", "method", "nonce"), attendance_rows
        )
        self.counts.update(
            activities=len(activity_rows), signups=len(signup_rows), attendances=len(attendance_rows)
        )

    def _plan(
        self,
        rng: random.Random,
        c: _Community,
        starts: int,
        length: int,
        *,
        category: str | None = None,
        capacity: int | None = None,
    ) -> tuple:
        post_id = team_id = None
        r = rng.random()
        if category is not None:
            cat = category
        elif r < 0.45 and c.posts:
            post = rng.choice(c.posts)
            post_id, cat = post.pk, post.category
        elif r < 0.7 and c.teams:
            team_id, _, cat = rng.choice(c.teams)
        else:
            cat = rng.choice(list(ACTIVITY_TITLES))
        title = rng.choice(ACTIVITY_TITLES[cat])
        created = min(
            self.office(rng, starts // DAY - rng.randint(3, 14)), self.anchor - rng.randint(3600, 5 * DAY)
        )
        capacity = capacity or rng.choice((10, 15, 20, 20, 30, 30, 40, 50, 60))
        return (
            created,
            starts,
            starts + length,
            c,
            self.categories[cat],
            post_id,
            team_id,
            rng.choice(PLACES),
            title,
            capacity,
        )

    # --- records members logged themselves -----------------------------------------------------

    def logged_records(self) -> None:
        rng = _rng(self.seed, self.scale, "records")
        target = max(0, round(len(self.w.members) * RECORDS_PER_MEMBER) - len(self.records))
        first_day, last_day = self.today - 365, self.today - 1
        people: list[tuple[int, int, int]] = []  # (member, community, first day)
        for c in self.communities:
            for m, since in zip(c.members, c.since, strict=True):
                start = max(since, first_day)
                if start <= last_day:
                    people.append((m, c.pk, start))
        if not people:
            return
        # A few very active members (service stars) log several hundred records a year.
        city = self.scale == "city"
        veterans = [
            p for p in people if p[2] <= last_day - 300 and p[0] not in (self.demo.pk, self.demo_2.pk)
        ]
        stars = {
            p[0]: rng.randint(450, 620) if city else rng.randint(60, 120)
            for p in rng.sample(veterans, min(len(veterans), max(2, round(len(people) * 0.0008))))
        }
        stars[self.demo.pk] = 90
        fixed = sum(stars.values())
        weights = {m: rng.lognormvariate(0, 0.9) * (last_day - start + 1) / 365 for m, _, start in people}
        scale = max(0, target - fixed) / (sum(w for m, w in weights.items() if m not in stars) or 1)
        admin_of = self.w.admin_of
        category_ids = list(self.categories.values())
        hours_choices = (0.5, 1.0, 1.0, 1.5, 1.5, 2.0, 2.0, 2.0, 2.5, 3.0, 3.0, 4.0, 5.0, 6.0, 8.0)
        records, day_hours, anchor = self.records, self.day_hours, self.anchor
        PENDING, VERIFIED, REJECTED = (
            RecordStatus.PENDING.value,
            RecordStatus.VERIFIED.value,
            RecordStatus.REJECTED.value,
        )
        SELF, COMMUNITY = EvidenceLevel.SELF.value, EvidenceLevel.COMMUNITY.value
        RESIDENT = EvidenceLevel.RESIDENT.value
        recent = anchor - 14 * DAY
        random, office = rng.random, self.office
        category_names, claims_of, demo_pk = self.category_names, self.claims_of, self.demo.pk
        n_hours, n_categories = len(hours_choices), len(category_ids)
        lag = (0, 0, 0, 1, 1, 2, 3)
        helped = (0, 1, 1, 1, 2, 2, 3, 5, 8)
        for m, community_id, start in people:
            expected = stars.get(m)
            if expected is None:
                e = weights[m] * scale
                expected = int(e) + (random() < e - int(e))
            if not expected:
                continue
            mine = day_hours[m]
            claimed = [(p.category_id, p.category) for p in claims_of.get(m, ())]
            admin = admin_of.get(community_id)
            span = last_day - start + 1
            demo_rows = []
            for _ in range(expected):
                d = start + int(span * random())
                hours = hours_choices[int(n_hours * random())]
                total = mine.get(d, 0.0) + hours
                if total > MAX_DAY_HOURS:
                    continue
                mine[d] = total
                if claimed and random() < 0.5:
                    cat_id, cat = claimed[int(len(claimed) * random())]
                else:
                    cat_id = category_ids[int(n_categories * random())]
                    cat = category_names[cat_id]
                created = (d + lag[int(7 * random())]) * DAY + 64800 + int(18000 * random())
                if created >= anchor:
                    created = anchor - 60 - int(2940 * random())
                r = random()
                verified_by = verified_at = None
                reason = ""
                if (created > recent and r < 0.75) or r < 0.012:
                    status = PENDING
                elif r < 0.045:
                    status, verified_by, reason = (
                        REJECTED,
                        admin,
                        REJECT_RECORD[int(len(REJECT_RECORD) * random())],
                    )
                    verified_at = min(office(rng, created // DAY + 1 + int(5 * random())), anchor - 60)
                else:
                    status, verified_by = VERIFIED, admin
                    verified_at = office(rng, created // DAY + 1 + int(7 * random()))
                    if verified_at >= anchor:
                        status, verified_by, verified_at = PENDING, None, None
                evidence = COMMUNITY if status == VERIFIED else SELF
                rating = None
                if status != REJECTED and random() < 0.04 and created + 3600 < anchor:
                    evidence, rating = RESIDENT, RATINGS[int(len(RATINGS) * random())]
                texts = RECORD_TEXTS[cat]
                if m == demo_pk:
                    demo_rows.append(len(records))
                records.append(
                    (
                        created,
                        m,
                        community_id,
                        cat_id,
                        None,
                        d,
                        hours,
                        texts[int(len(texts) * random())],
                        helped[int(9 * random())],
                        status,
                        evidence,
                        verified_by,
                        verified_at,
                        reason,
                        rating,
                    )
                )
            if m == demo_pk and len(demo_rows) >= 4:
                self._demo_records(rng, demo_rows)

    def _demo_records(self, rng: random.Random, rows: list[int]) -> None:
        """The demo member's records show every state: one pending, one rejected, one confirmed by a resident."""
        records, anchor = self.records, self.anchor
        rows = sorted(rows, key=lambda i: records[i][0])
        latest, rejected, resident = rows[-1], rows[len(rows) // 2], rows[len(rows) // 3]
        r = list(records[latest])
        r[9], r[10], r[11], r[12], r[13], r[14] = (
            RecordStatus.PENDING.value,
            EvidenceLevel.SELF.value,
            None,
            None,
            "",
            None,
        )
        records[latest] = tuple(r)
        r = list(records[rejected])
        r[9], r[10], r[11], r[13], r[14] = (
            RecordStatus.REJECTED.value,
            EvidenceLevel.SELF.value,
            self.w.admin_of.get(r[2]),
            REJECT_RECORD[1],
            None,
        )
        r[12] = min(self.office(rng, r[0] // DAY + 1), anchor - 60)
        records[rejected] = tuple(r)
        served = dt.date.fromordinal(r[5])
        self.notify(
            self.demo,
            "record_rejected",
            "服务记录未通过审核",
            f"{served:%Y-%m-%d} 的服务记录未通过：{REJECT_RECORD[1]}",
            "/records/",
            r[12] + 60,
            None,
        )
        r = list(records[resident])
        r[9], r[10], r[11], r[14] = (
            RecordStatus.VERIFIED.value,
            EvidenceLevel.RESIDENT.value,
            self.w.admin_of.get(r[2]),
            "satisfied",
        )
        r[12] = min(self.office(rng, r[0] // DAY + 1), anchor - 60)
        records[resident] = tuple(r)

    def write_records(self) -> None:
        """Records get their ids in the order they were made, as they would in use."""
        rng = _rng(self.seed, self.scale, "resident-codes")
        records = self.records
        records.sort(key=itemgetter(0, 1))
        first = self.load.ids(ServiceRecord, len(records))
        ts, day = self.load.ts, self.load.day
        months: dict[int, int] = {}
        hours_text: dict[float, str] = {}
        codes = []

        def rows():
            for i, (
                created,
                m,
                community_id,
                cat_id,
                activity_id,
                d,
                hours,
                text,
                people,
                status,
                evidence,
                verified_by,
                verified_at,
                reason,
                rating,
            ) in enumerate(records):
                month = months.get(d)
                if month is None:
                    served = dt.date.fromordinal(d)
                    month = months[d] = served.year * 100 + served.month
                h = hours_text.get(hours)
                if h is None:
                    h = hours_text[hours] = _hours_text(hours)
                if rating is not None:
                    issued = created + rng.randint(60, 1800)
                    codes.append(
                        (
                            m,
                            f"{rng.getrandbits(256):064x}",
                            ts(issued),
                            ts(issued + 86400),
                            ts(min(issued + rng.randint(60, 600), self.anchor - 1)),
                            first + i,
                            f"{rng.getrandbits(256):064x}",
                            0,
                            rating,
                        )
                    )
                yield (
                    first + i,
                    m,
                    community_id,
                    cat_id,
                    activity_id,
                    day(d),
                    month,
                    h,
                    text,
                    people,
                    "",
                    status,
                    evidence,
                    verified_by,
                    ts(verified_at),
                    reason,
                    ts(created),
                )

        with self.load.without_indexes(ServiceRecord):
            n = self.load.write(
                ServiceRecord,
                (
                    "id",
                    "member_id",
                    "community_id",
                    "category_id",
                    "activity_id",
                    "served_on",
                    "month",
                    "hours",
                    "description",
                    "people_helped",
                    "photo",
                    "status",
                    "evidence",
                    "verified_by_id",
                    "verified_at",
                    "reject_reason",
                    "created_at",
                ),
                rows(),
            )
        self.load.write(
            ResidentCode,
            (
                "member_id",
                "code_hash",
                "created_at",
                "expires_at",
                "used_at",
                "record_id",
                "token_hash",
                "attempts",
                "rating",
            ),
            codes,
        )
        by_status = defaultdict(int)
        for r in records:
            by_status[r[9]] += 1
        self.counts.update(
            records=n,
            records_from_activities=sum(1 for r in records if r[4] is not None),
            records_pending=by_status[RecordStatus.PENDING.value],
            records_rejected=by_status[RecordStatus.REJECTED.value],
            resident_codes=len(codes),
        )
        self.records = []
        self.day_hours = defaultdict(dict)

    # --- 四个一 and 十个有 ------------------------------------------------------------------------

    def checklists(self) -> None:
        from jinshequ.supervision.services import items_create_defaults

        rng = _rng(self.seed, self.scale, "checklists")
        campaign = self.w.campaign
        items_create_defaults(campaign=campaign, actor=None)
        items = {(i.scope, i.title): i.pk for i in ChecklistItem.objects.filter(campaign=campaign, rule="")}
        ts = self.load.ts
        c_start = campaign.starts_on.toordinal()
        span = max(1, self.today - 1 - c_start)
        regions = {r.pk: r for r in self.w.communities}
        community_items = (
            (
                "有办公场所",
                0.92,
                lambda c: f"{regions[c.pk].address or c.name}，党群服务中心一楼在职党员服务站",
            ),
            ("有公示栏", 0.75, lambda c: "党群服务中心门前公示栏，每月更新报到和服务情况"),
            (
                "有考核办法",
                0.5,
                lambda c: f"《{c.name}在职党员进社区服务考核办法》，{campaign.starts_on.year}年印发",
            ),
            ("有工作制度", 0.65, lambda c: "报到登记、联系服务、反馈评议制度已上墙公开"),
        )
        rows = []
        for c in self.communities:
            for title, share, note in community_items:
                pk = items.get((ChecklistScope.COMMUNITY, title))
                if pk is None or rng.random() >= share:
                    continue
                marked = self.office(rng, c_start + rng.randint(5, span))
                if rng.random() < 0.03:
                    rows.append((pk, None, c.pk, False, "原有材料已过期，待重新整理", c.admin, ts(marked)))
                else:
                    rows.append((pk, None, c.pk, True, note(c)[:200], c.admin, ts(marked)))
        suggestion = items.get((ChecklistScope.MEMBER, "提出一条建议"))
        if suggestion is not None:
            for c in self.communities:
                for m in c.members:
                    if m == self.demo.pk or rng.random() < 0.04:
                        marked = self.office(rng, max(c_start, self.since[m]) + rng.randint(1, 60))
                        if marked < self.anchor:
                            rows.append(
                                (suggestion, m, None, True, rng.choice(SUGGESTIONS), c.admin, ts(marked))
                            )
        self.load.write(
            ChecklistMark,
            ("item_id", "member_id", "community_id", "done", "note", "marked_by_id", "marked_at"),
            rows,
        )
        self.counts.update(
            checklist_items=ChecklistItem.objects.filter(campaign=campaign).count(), checklist_marks=len(rows)
        )


def build_service(world: ReportWorld, *, seed: int, scale: str, loader: Loader, lap) -> dict[str, int]:
    """Write posts, claims, teams, households, activities, sign-ups, records and checklists; returns counts."""
    s = _Service(world, seed=seed, scale=scale, loader=loader)
    s.posts_and_claims()
    lap("posts")
    s.teams_and_households()
    lap("teams")
    s.activities()
    lap("activities")
    s.logged_records()
    lap("records")
    s.write_records()
    lap("write records")
    s.checklists()
    loader.write(
        Notification,
        (
            "member_id",
            "user_id",
            "kind",
            "title",
            "body",
            "link",
            "created_at",
            "read_at",
            "delivered_via",
            "delivery_error",
        ),
        s.notes,
    )
    lap("checklists")
    return s.counts
