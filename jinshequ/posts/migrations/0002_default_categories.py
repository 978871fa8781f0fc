from django.db import migrations

DEFAULT_CATEGORIES = ["政策宣传", "环境整治", "治安巡逻", "文体活动", "法律咨询", "医疗健康", "助老助残", "矛盾调解",
                      "教育辅导", "其他"]


def add_categories(apps, schema_editor):
    PostCategory = apps.get_model("posts", "PostCategory")
    for order, name in enumerate(DEFAULT_CATEGORIES):
        PostCategory.objects.get_or_create(name=name, defaults={"sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("posts", "0001_initial")]
    operations = [migrations.RunPython(add_categories, migrations.RunPython.noop)]
