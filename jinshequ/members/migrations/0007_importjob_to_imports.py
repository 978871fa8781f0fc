# ImportJob moved to the imports app: state only, the table (members_importjob) and its rows stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0006_member_pinyin_index'),
        ('imports', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='ImportJob')],
            database_operations=[],
        ),
    ]
