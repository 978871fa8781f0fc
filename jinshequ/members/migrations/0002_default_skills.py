from django.db import migrations

DEFAULT_SKILLS = [
    "政策宣讲", "法律咨询", "医疗保健", "心理疏导", "教育辅导", "文艺体育", "书法绘画", "摄影摄像",
    "电脑网络", "家电维修", "水电维修", "环境保护", "治安巡逻", "矛盾调解", "助老助残", "财会金融",
    "建筑规划", "外语翻译", "驾驶", "烹饪",
]


def add_skills(apps, schema_editor):
    Skill = apps.get_model("members", "Skill")
    for order, name in enumerate(DEFAULT_SKILLS):
        Skill.objects.get_or_create(name=name, defaults={"sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]
    operations = [migrations.RunPython(add_skills, migrations.RunPython.noop)]
