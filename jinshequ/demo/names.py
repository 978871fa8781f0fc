"""Realistic Chinese personal names, drawn with the surname frequencies of north-east China.

Surname weights are per 10,000 people, rounded from national census figures and nudged
towards Liaoning (more 于, 关, 佟, 姜; fewer 黄, 林, 陈). A few surnames whose surname reading
differs from the common reading (单, 曾, 解, 仇, 查) are included on purpose: search by pinyin
initials must find them. Given names are one or two characters; people born before 1980 more
often have the era names of their time (建国, 卫东, 秀英, 桂兰).
"""

from __future__ import annotations

import bisect
import itertools
import random

SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 760),
    ("李", 700),
    ("张", 680),
    ("刘", 580),
    ("陈", 320),
    ("杨", 300),
    ("赵", 270),
    ("孙", 230),
    ("于", 180),
    ("周", 170),
    ("吴", 160),
    ("徐", 150),
    ("马", 150),
    ("高", 150),
    ("郭", 120),
    ("朱", 110),
    ("胡", 100),
    ("姜", 100),
    ("黄", 90),
    ("林", 80),
    ("何", 80),
    ("宋", 80),
    ("韩", 90),
    ("郑", 70),
    ("董", 70),
    ("曹", 60),
    ("冯", 60),
    ("崔", 60),
    ("田", 60),
    ("曲", 50),
    ("丁", 50),
    ("谢", 45),
    ("唐", 45),
    ("许", 45),
    ("邓", 40),
    ("袁", 40),
    ("程", 40),
    ("贾", 45),
    ("魏", 45),
    ("吕", 40),
    ("苏", 40),
    ("卢", 35),
    ("蒋", 30),
    ("蔡", 30),
    ("石", 40),
    ("白", 40),
    ("关", 45),
    ("佟", 30),
    ("孟", 40),
    ("侯", 35),
    ("郝", 35),
    ("范", 30),
    ("方", 25),
    ("任", 30),
    ("姚", 25),
    ("谭", 20),
    ("邹", 20),
    ("金", 35),
    ("陆", 15),
    ("孔", 20),
    ("康", 20),
    ("毛", 20),
    ("邱", 15),
    ("秦", 20),
    ("江", 20),
    ("史", 20),
    ("顾", 15),
    ("邵", 20),
    ("段", 15),
    ("雷", 15),
    ("钱", 15),
    ("汤", 15),
    ("尹", 20),
    ("常", 25),
    ("武", 20),
    ("乔", 20),
    ("贺", 15),
    ("付", 30),
    ("薛", 20),
    ("闫", 25),
    ("杜", 25),
    ("夏", 15),
    ("钟", 10),
    ("汪", 10),
    ("潘", 20),
    ("戴", 15),
    ("叶", 15),
    ("沈", 15),
    ("彭", 15),
    ("曾", 10),
    ("萧", 8),
    ("庞", 12),
    ("葛", 12),
    ("修", 10),
    ("那", 8),
    ("鲁", 10),
    ("单", 10),
    ("解", 8),
    ("仇", 5),
    ("查", 5),
    ("尉", 4),
    ("隋", 10),
    ("栾", 10),
    ("车", 8),
    ("欧阳", 3),
    ("司马", 1),
    ("上官", 1),
)

MALE_CHARS = (
    "伟刚勇毅俊峰强军平东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬"
    "富顺信杰涛昌成康星光天达安岩中茂进林有坚和彪博诚震振壮会思群豪心邦承乐绍功松善厚庆磊民"
    "友裕河哲江超浩亮政谦奇翰朗伯宏鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士建家致树德行时泰盛雄"
    "琛钧冠策腾楠风航弘宇凯鑫铭睿"
)
FEMALE_CHARS = (
    "秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红玲芬芳燕彩春菊兰凤洁梅琳素云莲雪荣爱霞香月媛艳瑞佳嘉琼"
    "勤珍莉桂晶妍茜秋珊莎锦青倩婷婉娴瑾颖露瑶怡雁蓓仪荷丹蓉君琴蕊薇菁梦岚婕馨韵艺卿聪澜纯悦昭"
    "冰爽琪茗羽希欣滢筠柔竹凝晓欢枫芸菲伊亚宜可舒影丽阳妮宝晴容雯萱彦雨曼紫逸蝶"
)
# Names common among people born 1965–1980.
MALE_ERA_NAMES = (
    "建国",
    "建华",
    "建军",
    "国庆",
    "国强",
    "卫东",
    "卫国",
    "志强",
    "志刚",
    "志勇",
    "振华",
    "永刚",
    "海涛",
    "宏伟",
    "立新",
    "红军",
    "跃进",
    "庆国",
    "建平",
    "铁军",
    "长青",
    "德胜",
    "胜利",
    "向东",
    "文革",
    "忠诚",
)
FEMALE_ERA_NAMES = (
    "秀英",
    "桂兰",
    "秀兰",
    "玉兰",
    "桂芳",
    "丽华",
    "红梅",
    "海燕",
    "丽娟",
    "淑华",
    "秀芳",
    "玉梅",
    "凤霞",
    "春梅",
    "秀梅",
    "艳红",
    "丽萍",
    "晓红",
    "亚琴",
    "素芬",
    "淑珍",
    "玉珍",
    "桂珍",
    "金凤",
    "彩霞",
    "爱华",
)

_SURNAME_CUM = list(itertools.accumulate(w for _, w in SURNAMES))


def random_name(rng: random.Random, *, male: bool, birth_year: int) -> str:
    """A full name; ``rng`` alone decides it, so the same seed gives the same names."""
    surname = SURNAMES[bisect.bisect_right(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])][0]
    chars = MALE_CHARS if male else FEMALE_CHARS
    if birth_year < 1980 and rng.random() < 0.25:
        given = rng.choice(MALE_ERA_NAMES if male else FEMALE_ERA_NAMES)
    elif rng.random() < 0.3 and len(surname) == 1:
        given = rng.choice(chars)
    else:
        given = rng.choice(chars) + rng.choice(chars)
        if given[0] == given[1] and rng.random() < 0.7:  # doubled names (婷婷) exist, but fewer
            given = given[0] + rng.choice(chars)
    return surname + given
