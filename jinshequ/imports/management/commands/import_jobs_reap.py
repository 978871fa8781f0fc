"""Mark import jobs whose worker stopped sending heartbeats (killed, crashed) as failed."""

import datetime as dt

from django.core.management.base import BaseCommand

from jinshequ.imports.services import reap_stale_jobs, stale_after


class Command(BaseCommand):
    help = "把长时间没有心跳的导入任务标记为失败（进程被终止时，其事务已由数据库回滚）。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            help=f"心跳超过多少秒算中断（默认 {int(stale_after().total_seconds())} 秒）",
        )

    def handle(self, *args, **options):
        older = options["older_than"]
        count = reap_stale_jobs(older_than=dt.timedelta(seconds=older) if older is not None else None)
        self.stdout.write(f"reaped {count}")
