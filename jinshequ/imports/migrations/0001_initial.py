# ImportJob moved here from members: state only, the table (members_importjob) and its rows stay.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('members', '0006_member_pinyin_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ImportJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('members', '党员'), ('units', '单位')], default='members', max_length=8, verbose_name='类型')),
                        ('status', models.CharField(choices=[('validating', '正在检查'), ('ready', '待确认'), ('applying', '正在导入'), ('done', '已完成'), ('failed', '失败')], default='validating', max_length=12, verbose_name='状态')),
                        ('mode', models.CharField(blank=True, choices=[('all', '全部导入'), ('valid_only', '只导入无误的行')], max_length=12, verbose_name='导入方式')),
                        ('file_name', models.CharField(max_length=200, verbose_name='文件名')),
                        ('upload', models.FileField(blank=True, max_length=255, upload_to='imports/')),
                        ('file_sha256', models.CharField(blank=True, max_length=64)),
                        ('file_size', models.PositiveBigIntegerField(default=0)),
                        ('ip', models.CharField(blank=True, max_length=45)),
                        ('request_id', models.CharField(blank=True, max_length=32)),
                        ('total_rows', models.PositiveIntegerField(default=0, verbose_name='数据行数')),
                        ('valid_rows', models.PositiveIntegerField(default=0, verbose_name='无误行数')),
                        ('error_rows', models.PositiveIntegerField(default=0, verbose_name='有误行数')),
                        ('errors', models.JSONField(blank=True, default=list)),
                        ('preview', models.JSONField(blank=True, default=list)),
                        ('notices', models.JSONField(blank=True, default=list)),
                        ('message', models.TextField(blank=True, verbose_name='说明')),
                        ('planned', models.JSONField(blank=True, default=dict)),
                        ('created_count', models.PositiveIntegerField(default=0, verbose_name='新增')),
                        ('updated_count', models.PositiveIntegerField(default=0, verbose_name='更新')),
                        ('unchanged_count', models.PositiveIntegerField(default=0, verbose_name='无变化')),
                        ('skipped_count', models.PositiveIntegerField(default=0, verbose_name='跳过')),
                        ('progress', models.PositiveIntegerField(default=0)),
                        ('progress_total', models.PositiveIntegerField(default=0)),
                        ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='import_jobs', to=settings.AUTH_USER_MODEL, verbose_name='导入人')),
                    ],
                    options={
                        'verbose_name': '导入任务',
                        'verbose_name_plural': '导入任务',
                        'db_table': 'members_importjob', 'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['created_by', 'created_at'], name='importjob_user_time'), models.Index(fields=['status', 'heartbeat_at'], name='importjob_status_beat')],
                    },
                ),
            ],
        ),
    ]
