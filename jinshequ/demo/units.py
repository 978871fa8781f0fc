"""The demo city's work units (党员所在单位): realistic kinds, names and nesting.

``unit_catalog`` lists city departments, the police and tax systems with their branches, the
Benxi steel group with its plants and mines, banks with their sub-branches, utilities, schools,
hospitals, district and county departments, street offices, private firms and social
organisations. Each entry carries a relative ``weight`` (how many party members it tends to
have). Parents always come before their children.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from jinshequ.demo.geography import DistrictSpec

CITY_SEAT = "平山区"  # the city government sits in 平山区

NUMERALS = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十")


def cn_number(n: int) -> str:
    """1..99 in Chinese numerals: 12 → 十二, 27 → 二十七."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return NUMERALS[ones]
    return f"{'' if tens == 1 else NUMERALS[tens]}十{NUMERALS[ones]}"


@dataclass
class UnitSpec:
    key: str
    name: str
    short_name: str
    kind: str
    district: str
    weight: float
    parent: str | None = None
    featured: bool = False  # kept in the small demo
    street: str | None = None  # street-level units (street office, police station …) sit in a street


CITY_DEPARTMENTS = (
    # (name, short name, weight)
    ("中共本溪市委办公室", "市委办", 40),
    ("中共本溪市委组织部", "市委组织部", 45),
    ("中共本溪市委宣传部", "市委宣传部", 35),
    ("中共本溪市委统战部", "市委统战部", 25),
    ("中共本溪市委政法委员会", "市委政法委", 25),
    ("本溪市纪委监委机关", "市纪委监委", 60),
    ("本溪市人大常委会机关", "市人大机关", 35),
    ("政协本溪市委员会机关", "市政协机关", 30),
    ("本溪市人民政府办公室", "市政府办", 45),
    ("本溪市发展和改革委员会", "市发改委", 40),
    ("本溪市教育局", "市教育局", 40),
    ("本溪市科学技术局", "市科技局", 20),
    ("本溪市工业和信息化局", "市工信局", 30),
    ("本溪市民政局", "市民政局", 35),
    ("本溪市司法局", "市司法局", 35),
    ("本溪市财政局", "市财政局", 50),
    ("本溪市人力资源和社会保障局", "市人社局", 45),
    ("本溪市自然资源局", "市自然资源局", 45),
    ("本溪市生态环境局", "市生态环境局", 35),
    ("本溪市住房和城乡建设局", "市住建局", 40),
    ("本溪市交通运输局", "市交通局", 35),
    ("本溪市水务局", "市水务局", 30),
    ("本溪市农业农村局", "市农业农村局", 35),
    ("本溪市商务局", "市商务局", 25),
    ("本溪市文化旅游和广播电视局", "市文旅局", 30),
    ("本溪市卫生健康委员会", "市卫健委", 35),
    ("本溪市退役军人事务局", "市退役军人局", 20),
    ("本溪市应急管理局", "市应急局", 30),
    ("本溪市审计局", "市审计局", 30),
    ("本溪市人民政府国有资产监督管理委员会", "市国资委", 25),
    ("本溪市市场监督管理局", "市市场监管局", 60),
    ("本溪市体育局", "市体育局", 15),
    ("本溪市统计局", "市统计局", 20),
    ("本溪市医疗保障局", "市医保局", 25),
    ("本溪市城市管理综合行政执法局", "市城管局", 50),
    ("本溪市信访局", "市信访局", 20),
    ("本溪市营商环境建设局", "市营商局", 25),
    ("本溪市中级人民法院", "市中院", 60),
    ("本溪市人民检察院", "市检察院", 45),
    ("本溪市总工会", "市总工会", 20),
    ("共青团本溪市委员会", "团市委", 12),
    ("本溪市妇女联合会", "市妇联", 12),
    ("本溪市科学技术协会", "市科协", 10),
    ("本溪市残疾人联合会", "市残联", 12),
    ("本溪市工商业联合会", "市工商联", 10),
    ("中共本溪市委党校", "市委党校", 35),
    ("本溪市机关事务服务中心", "市机关事务中心", 25),
    ("中国人民银行本溪市分行", "人行本溪分行", 30),
    ("国家统计局本溪调查队", "本溪调查队", 12),
)

CITY_INSTITUTIONS = (
    ("本溪市疾病预防控制中心", "市疾控中心", 40),
    ("本溪市档案馆", "市档案馆", 15),
    ("本溪市图书馆", "市图书馆", 15),
    ("本溪市博物馆", "市博物馆", 12),
    ("本溪广播电视台", "本溪广电", 45),
    ("本溪日报社", "本溪日报", 35),
    ("本溪市住房公积金管理中心", "市公积金中心", 25),
    ("本溪市不动产登记中心", "市不动产中心", 25),
    ("本溪市公共资源交易中心", "市交易中心", 15),
    ("本溪市气象局", "市气象局", 20),
    ("本溪市急救中心", "市急救中心", 25),
    ("本溪市中心血站", "市血站", 15),
    ("本溪市社会福利院", "市福利院", 15),
    ("本溪市水文局", "市水文局", 12),
    ("本溪市青少年活动中心", "市青少年宫", 10),
    ("本溪市群众艺术馆", "市群艺馆", 12),
    ("本溪市科技馆", "市科技馆", 8),
    ("本溪市体育中心", "市体育中心", 12),
    ("本溪市政务服务中心", "市政务中心", 30),
    ("本溪市人才服务中心", "市人才中心", 15),
    ("本溪市就业服务中心", "市就业中心", 20),
    ("本溪市社会保险事业服务中心", "市社保中心", 35),
    ("本溪市农业科学研究院", "市农科院", 20),
    ("本溪市林业发展服务中心", "市林业中心", 20),
    ("本溪水洞风景名胜区管理局", "水洞管理局", 25),
    ("本溪市生态环境监测中心", "市环境监测中心", 20),
    ("本溪市检验检测认证中心", "市检测中心", 20),
    ("本溪市关门山水库管理处", "关门山水库", 12),
    ("本溪市老干部活动中心", "市老干部中心", 8),
    ("本溪市城市建设档案馆", "市城建档案馆", 8),
)

DISTRICT_DEPARTMENTS = (
    ("区委办公室", 20),
    ("区委组织部", 20),
    ("区委宣传部", 12),
    ("区纪委监委", 25),
    ("区人民政府办公室", 20),
    ("区发展和改革局", 15),
    ("区教育局", 18),
    ("区民政局", 15),
    ("区财政局", 20),
    ("区人力资源和社会保障局", 18),
    ("区住房和城乡建设局", 15),
    ("区卫生健康局", 15),
    ("区市场监督管理局", 25),
    ("区城市管理局", 20),
    ("区应急管理局", 12),
    ("区人民法院", 30),
    ("区人民检察院", 22),
    ("区退役军人事务局", 10),
    ("区疾病预防控制中心", 15),
    ("区融媒体中心", 12),
    ("区社会保险事业服务中心", 15),
    ("区文化馆", 6),
)

HOSPITALS = (
    ("本溪市中心医院", "市中心医院", 260),
    ("本溪市第一人民医院", "市第一人民医院", 150),
    ("本溪市第二人民医院", "市第二人民医院", 90),
    ("本溪市第三人民医院", "市第三人民医院", 70),
    ("本溪市第四人民医院", "市第四人民医院", 60),
    ("本溪市中医院", "市中医院", 90),
    ("本溪市妇幼保健院", "市妇幼保健院", 60),
    ("本溪市传染病医院", "市传染病医院", 30),
    ("本溪市眼科医院", "市眼科医院", 20),
    ("本溪市口腔医院", "市口腔医院", 20),
    ("本溪市肿瘤医院", "市肿瘤医院", 50),
    ("本溪市儿童医院", "市儿童医院", 40),
)

STEEL_GROUP = "本溪钢铁（集团）有限责任公司"
STEEL_PLATE = "本钢板材股份有限公司"
STEEL_MINING = "本溪钢铁（集团）矿业有限责任公司"
STEEL_BEIYING = "本钢集团北营钢铁有限公司"
STEEL_PLATE_PLANTS = (
    "炼铁总厂",
    "炼钢厂",
    "特殊钢厂",
    "热连轧厂",
    "冷轧厂",
    "发电厂",
    "焦化厂",
    "原料厂",
    "能源管控中心",
    "质检计量中心",
    "运输部",
    "设备工程部",
    "销售中心",
    "采购中心",
    "技术研究院",
)
STEEL_MINES = ("南芬露天铁矿", "歪头山铁矿", "贾家堡铁矿", "南芬选矿厂", "石灰石矿", "马耳岭球团厂")
STEEL_BEIYING_PLANTS = ("炼铁厂", "炼钢厂", "轧钢厂", "焦化厂", "发电厂")
STEEL_OTHERS = (
    "本钢集团建设有限责任公司",
    "本钢集团机械制造有限责任公司",
    "本钢集团修建有限责任公司",
    "本钢集团实业发展有限责任公司",
    "本钢集团国际经济贸易有限公司",
    "本钢集团信息自动化有限责任公司",
    "本钢集团财务有限公司",
    "本钢浦项冷轧薄板有限责任公司",
    "本钢集团总医院",
    "本钢集团技师学院",
)

BANKS = (
    ("中国工商银行本溪分行", "工行本溪分行"),
    ("中国农业银行本溪分行", "农行本溪分行"),
    ("中国银行本溪分行", "中行本溪分行"),
    ("中国建设银行本溪分行", "建行本溪分行"),
    ("交通银行本溪分行", "交行本溪分行"),
    ("中国邮政储蓄银行本溪市分行", "邮储本溪分行"),
    ("辽宁本溪农村商业银行", "本溪农商行"),
    ("本溪市商业银行", "本溪商行"),
)

UTILITIES = (
    # (name, short, kind, weight, branch suffix or None)
    ("国网本溪供电公司", "本溪供电公司", "soe", 120, "供电分公司"),
    ("中国移动通信集团辽宁有限公司本溪分公司", "本溪移动", "soe", 40, "营业部"),
    ("中国联合网络通信有限公司本溪市分公司", "本溪联通", "soe", 30, "营业部"),
    ("中国电信股份有限公司本溪分公司", "本溪电信", "soe", 30, "营业部"),
    ("中国邮政集团有限公司本溪市分公司", "本溪邮政", "soe", 40, "邮政支局"),
    ("本溪市水务集团有限公司", "本溪水务集团", "soe", 60, None),
    ("本溪热力有限公司", "本溪热力", "soe", 50, None),
    ("本溪市燃气有限公司", "本溪燃气", "soe", 35, None),
    ("本溪市公共交通集团有限公司", "本溪公交集团", "soe", 70, None),
    ("中国铁路沈阳局集团有限公司本溪车务段", "本溪车务段", "soe", 80, None),
    ("本溪市城市建设投资发展有限公司", "本溪城投", "soe", 30, None),
    ("本溪市国有资产经营有限公司", "市国资经营公司", "soe", 20, None),
    ("本溪市交通投资集团有限公司", "本溪交投", "soe", 25, None),
    ("本溪药都投资集团有限公司", "药都投资集团", "soe", 25, None),
    ("中国石油天然气股份有限公司辽宁本溪销售分公司", "中石油本溪", "soe", 25, None),
    ("中国石化销售股份有限公司辽宁本溪石油分公司", "中石化本溪", "soe", 20, None),
    ("辽宁省烟草公司本溪市公司", "本溪烟草", "soe", 25, None),
    ("中国人寿保险股份有限公司本溪分公司", "本溪人寿", "soe", 20, None),
    ("中国人民财产保险股份有限公司本溪市分公司", "本溪人保", "soe", 20, None),
    ("本溪北方煤化工有限公司", "北方煤化工", "soe", 40, None),
    ("辽宁省本溪监狱", "本溪监狱", "party_gov", 50, None),
)

SOCIAL_ORGS = (
    "本溪市个体劳动者协会",
    "本溪市建筑业协会",
    "本溪市物流协会",
    "本溪市餐饮烹饪行业协会",
    "本溪市律师协会",
    "本溪市注册会计师协会",
    "本溪市慈善总会",
    "本溪市红十字会",
    "本溪市老年人体育协会",
    "本溪市书法家协会",
    "本溪市摄影家协会",
    "本溪市作家协会",
    "本溪市志愿服务联合会",
    "本溪市青年企业家商会",
    "本溪市浙江商会",
    "本溪市福建商会",
    "本溪市温州商会",
    "本溪市河南商会",
    "本溪市山东商会",
    "本溪市中药材行业协会",
    "本溪市物业管理协会",
    "本溪市旅游协会",
    "本溪市电子商务协会",
    "本溪市家庭服务业协会",
    "本溪市钢铁行业协会",
    "本溪市老科技工作者协会",
    "本溪市关心下一代工作委员会",
    "本溪市义工联合会",
    "本溪市养老服务业协会",
    "本溪市安全生产协会",
)

FIRM_WORDS = (
    "鑫达",
    "恒远",
    "华盛",
    "金泰",
    "宏达",
    "永兴",
    "鼎盛",
    "瑞丰",
    "嘉禾",
    "伟业",
    "众诚",
    "天成",
    "龙腾",
    "凯越",
    "博远",
    "益民",
    "福源",
    "盛世",
    "万通",
    "汇通",
    "兴隆",
    "东方",
    "北方",
    "辽东",
    "溪城",
    "钢都",
    "药都",
    "枫叶",
    "五女山",
    "太子河",
    "水洞",
    "关门山",
    "宏图",
    "新源",
    "诚信",
    "德馨",
    "铭泰",
    "海川",
    "华源",
    "荣达",
    "利民",
    "鸿运",
    "泰和",
    "顺通",
    "金鼎",
    "银河",
    "卓越",
    "创新",
    "盛达",
    "恒信",
    "安泰",
    "润丰",
    "聚源",
    "长城",
)
FIRM_TRADES = (
    "建材",
    "商贸",
    "物流",
    "机械制造",
    "矿业",
    "药业",
    "食品",
    "房地产开发",
    "建筑工程",
    "物业服务",
    "信息技术",
    "餐饮管理",
    "汽车销售服务",
    "广告传媒",
    "装饰工程",
    "环保科技",
    "新材料",
    "医药连锁",
    "电子商务",
    "钢材贸易",
    "农业发展",
    "旅游开发",
    "酒店管理",
    "文化传播",
    "人力资源服务",
    "保安服务",
    "家政服务",
    "冶金设备",
    "耐火材料",
    "中药饮片",
    "山参种植",
    "冰酒酿造",
    "电力工程",
    "供暖设备",
    "运输",
    "教育咨询",
    "健康管理",
    "生物科技",
)
FIRM_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")


def _stem(name: str) -> str:
    """站前街道 → 站前, 小市镇 → 小市, 雅河朝鲜族乡 → 雅河."""
    for suffix in ("朝鲜族乡", "街道", "镇", "乡"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def unit_catalog(
    rng: random.Random,
    districts: list[DistrictSpec],
    streets: dict[str, list[str]],
    community_stems: list[str],
    *,
    total: int,
) -> list[UnitSpec]:
    """About ``total`` units (never fewer than the fixed institutions) for the given districts."""
    out: list[UnitSpec] = []
    seen: set[str] = set()

    def add(name, short, kind, district, weight, parent=None, featured=False, street=None) -> str:
        if name in seen:
            return name
        seen.add(name)
        out.append(UnitSpec(name, name, short, kind, district, weight, parent, featured, street))
        return name

    present = {d.name for d in districts}
    seat = CITY_SEAT if CITY_SEAT in present else districts[0].name
    featured_depts = {"本溪市财政局", "本溪市教育局", "中共本溪市委组织部", "本溪市市场监督管理局"}
    for name, short, weight in CITY_DEPARTMENTS:
        add(name, short, "party_gov", seat, weight, featured=name in featured_depts)

    # Police and tax: city bureau → district branches → station per street.
    police = add("本溪市公安局", "市公安局", "party_gov", seat, 60, featured=True)
    tax = add("国家税务总局本溪市税务局", "市税务局", "party_gov", seat, 45)
    for d in districts:
        branch = add(
            f"本溪市公安局{d.short}分局",
            f"{d.short}公安分局",
            "party_gov",
            d.name,
            45,
            police,
            featured=d.name == seat,
        )
        add(f"国家税务总局本溪市{d.short}税务局", f"{d.short}税务局", "party_gov", d.name, 25, tax)
        for street in streets[d.name]:
            add(
                f"本溪市公安局{d.short}分局{_stem(street)}派出所",
                f"{_stem(street)}派出所",
                "party_gov",
                d.name,
                12,
                branch,
                featured=d.name == seat and street == streets[d.name][0],
                street=street,
            )
    add("本溪市公安局交通警察支队", "交警支队", "party_gov", seat, 40, police)

    for name, short, weight in CITY_INSTITUTIONS:
        add(name, short, "institution", seat, weight, featured=name == "本溪市疾病预防控制中心")
    for name, short, weight in HOSPITALS:
        add(name, short, "hospital", seat, weight, featured=name in ("本溪市中心医院", "本溪市第一人民医院"))

    # The steel group: the city's largest employer, several levels deep.
    group = add(STEEL_GROUP, "本钢集团", "soe", seat, 80, featured=True)
    plate = add(STEEL_PLATE, "本钢板材", "soe", seat, 60, group, featured=True)
    for plant in STEEL_PLATE_PLANTS:
        add(
            f"{STEEL_PLATE}{plant}",
            f"本钢{plant}",
            "soe",
            seat if plant != "焦化厂" else "溪湖区",
            420 if plant.endswith("厂") else 120,
            plate,
            featured=plant in ("炼铁总厂", "炼钢厂"),
        )
    mining_district = "南芬区" if "南芬区" in present else seat
    mining = add(STEEL_MINING, "本钢矿业", "soe", mining_district, 60, group)
    for mine in STEEL_MINES:
        add(f"{STEEL_MINING}{mine}", f"本钢{mine}", "soe", mining_district, 350, mining)
    beiying_district = "溪湖区" if "溪湖区" in present else seat
    beiying = add(STEEL_BEIYING, "北营公司", "soe", beiying_district, 60, group)
    for plant in STEEL_BEIYING_PLANTS:
        add(f"{STEEL_BEIYING}{plant}", f"北营{plant}", "soe", beiying_district, 380, beiying)
    for name in STEEL_OTHERS:
        kind = "hospital" if name.endswith("医院") else "school" if name.endswith("学院") else "soe"
        add(
            name,
            name.replace("本钢集团", "本钢").replace("有限责任公司", "").replace("有限公司", ""),
            kind,
            seat,
            200 if kind == "hospital" else 150,
            group,
        )

    # Banks with a sub-branch in each district (and more in the larger ones).
    for name, short in BANKS:
        bank = add(name, short, "soe", seat, 35, featured=name.startswith("中国工商银行"))
        for d in districts:
            for street in streets[d.name][: 2 if d.kind == "district" else 1]:
                add(
                    f"{name}{_stem(street)}支行",
                    f"{short[:2]}{_stem(street)}支行",
                    "soe",
                    d.name,
                    10,
                    bank,
                    featured=name.startswith("中国工商银行") and d.name == seat,
                    street=street,
                )

    for name, short, kind, weight, branch in UTILITIES:
        parent = add(name, short, kind, seat, weight)
        if branch:
            for d in districts:
                add(f"{name}{d.short}{branch}", f"{short}{d.short}{branch}", kind, d.name, weight / 4, parent)

    # Schools: numbered city middle schools, then primary schools and kindergartens by street.
    for n in range(1, 28):
        school = f"本溪市第{cn_number(n)}中学"
        add(
            school,
            f"市{cn_number(n)}中",
            "school",
            seat if n % 3 else districts[n % len(districts)].name,
            40 if n < 15 else 28,
            featured=n == 12,
        )
    for name, weight in (
        ("本溪市高级中学", 60),
        ("本溪市实验中学", 45),
        ("辽宁科技学院", 180),
        ("辽宁冶金职业技术学院", 90),
        ("本溪市卫生学校", 30),
        ("本溪市教师进修学院", 25),
        ("本溪市特殊教育学校", 12),
        ("本溪市第一职业中等专业学校", 30),
    ):
        add(name, name.removeprefix("本溪市"), "school", seat, weight)
    for d in districts:
        prefix = d.name if d.kind == "district" else d.short
        add(f"{prefix}实验小学", f"{d.short}实验小学", "school", d.name, 30)
        add(f"{prefix}实验中学", f"{d.short}实验中学", "school", d.name, 30)
        if d.kind == "county":
            add(f"{d.name}高级中学", f"{d.short}高中", "school", d.name, 40)
            add(f"{d.name}人民医院", f"{d.short}人民医院", "hospital", d.name, 80)
            add(f"{d.name}中医院", f"{d.short}中医院", "hospital", d.name, 40)
        else:
            add(f"本溪市{d.name}人民医院", f"{d.short}人民医院", "hospital", d.name, 50)
        for street in streets[d.name]:
            stem = _stem(street)
            add(
                f"{prefix}{stem}小学",
                f"{stem}小学",
                "school",
                d.name,
                18,
                featured=d.name == seat and street == streets[d.name][0],
                street=street,
            )
            if street.endswith("街道"):
                add(
                    f"{prefix}{stem}街道社区卫生服务中心",
                    f"{stem}社区卫生服务中心",
                    "hospital",
                    d.name,
                    12,
                    street=street,
                )
                add(
                    f"{street}办事处",
                    f"{street}办事处",
                    "party_gov",
                    d.name,
                    25,
                    featured=street == streets[d.name][0],
                    street=street,
                )
            else:
                add(f"{prefix}{street}人民政府", f"{street}政府", "party_gov", d.name, 25, street=street)
                add(f"{prefix}{street}中心卫生院", f"{stem}卫生院", "hospital", d.name, 10, street=street)
        for dept, weight in DISTRICT_DEPARTMENTS:
            if d.kind == "county":
                dept = dept.replace("区", "县", 1)
            full = f"{'中共' if dept.startswith(('区委', '县委')) else ''}{d.name}{dept[1:]}"
            add(
                full,
                f"{d.short}{dept[1:]}",
                "party_gov" if "中心" not in dept and "馆" not in dept else "institution",
                d.name,
                weight,
                featured=d.name == seat and dept.endswith("财政局"),
            )

    # Primary schools and kindergartens named after communities, until the schools reach ~12%.
    stems = list(community_stems)
    rng.shuffle(stems)
    district_names = [d.name for d in districts]
    school_target = max(4, total * 12 // 100)
    for stem in stems:
        if sum(1 for u in out if u.kind == "school") >= school_target:
            break
        district = rng.choice(district_names)
        add(f"本溪市{stem}小学", f"{stem}小学", "school", district, 16)
        add(f"本溪市{stem}幼儿园", f"{stem}幼儿园", "school", district, 5)

    for name in SOCIAL_ORGS[: max(2, total // 25)]:
        add(name, name.removeprefix("本溪市"), "social", seat, 3, featured=name == "本溪市慈善总会")
    for i in range(max(1, total // 100)):
        add(f"辽宁{rng.choice(FIRM_WORDS)}律师事务所", "", "social", rng.choice(district_names), 4)
        add(f"本溪{rng.choice(FIRM_WORDS)}会计师事务所", "", "social", rng.choice(district_names), 2)
        if i % 2 == 0:
            district = rng.choice(district_names)
            add(f"本溪市{district}{rng.choice(FIRM_WORDS)}社会工作服务中心", "", "social", district, 2)

    # Private firms fill the rest; a few large ones, many small.
    attempts = featured_firms = 0
    while len(out) < total and attempts < total * 20:
        attempts += 1
        word, trade, form = rng.choice(FIRM_WORDS), rng.choice(FIRM_TRADES), rng.choice(FIRM_FORMS)
        district = rng.choice(district_names)
        prefix = rng.choice(
            ("本溪", "本溪", "本溪", "辽宁", f"本溪市{district}" if district.endswith("区") else "本溪")
        )
        weight = rng.choice((1, 2, 3, 4, 6, 8, 12, 20, 40))
        before = len(out)
        add(
            f"{prefix}{word}{trade}{form}",
            f"{word}{trade}",
            "private",
            district,
            weight,
            featured=featured_firms < 3,
        )
        featured_firms += len(out) - before
    return out
