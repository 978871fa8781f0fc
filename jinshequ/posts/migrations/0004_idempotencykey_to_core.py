# IdempotencyKey moved to core (a library concern, not a posts one). The rows are copied into
# core_idempotencykey (new ids: the keys are looked up by user, key and scope, never by id), then the
# posts table is dropped. Plain SQL, not RunPython: the demo's reset replays our RunPython data
# migrations against the current models, where posts.IdempotencyKey no longer exists.

from django.db import migrations

COLUMNS = ("user_id, key, scope, fingerprint, response_status, response_body, response_headers, "
           "created_at, completed_at")


class Migration(migrations.Migration):

    dependencies = [
        ('posts', '0003_idempotencykey'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(
            f"INSERT INTO core_idempotencykey ({COLUMNS}) SELECT {COLUMNS} FROM posts_idempotencykey",
            reverse_sql=f"INSERT INTO posts_idempotencykey ({COLUMNS}) SELECT {COLUMNS} FROM core_idempotencykey",
        ),
        migrations.DeleteModel(
            name='IdempotencyKey',
        ),
    ]
