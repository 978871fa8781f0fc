"""``jinshequ demo``: migrate, build (or reuse) the demo city, print the accounts, and serve it.

jinshequ demo [--scale small|city] [--no-serve] [--port N] [--reset] [--seed N]
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import unicodedata

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from jinshequ.accounts.demo_accounts import DEMO_PASSWORD

SCALE_LABELS = {"small": "小规模", "city": "城市规模"}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A plain-text table that lines up Chinese (double-width) characters too."""
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(_pad(c, w) for c, w in zip(header, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "建立（或复用）演示城市并启动系统。Build or reuse the demo city and serve it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            choices=("small", "city"),
            default="small",
            help="small：几个社区、约 400 名党员（几秒）；city：本溪市规模，225 个社区、7.7 万名党员。",
        )
        parser.add_argument("--no-serve", action="store_true", help="只建数据，不启动服务。")
        parser.add_argument(
            "--port", type=int, default=8000, help="监听端口（只监听 127.0.0.1），默认 8000。"
        )
        parser.add_argument("--reset", action="store_true", help="清空整个数据库后重建演示城市。")
        parser.add_argument("--seed", type=int, default=None, help="随机种子：同一种子得到同样的数据。")
        parser.add_argument(
            "--as-of",
            type=dt.date.fromisoformat,
            default=None,
            help="以哪一天为“今天”计算年龄和日期（YYYY-MM-DD，默认今天）。",
        )

    def handle(self, *args, scale, no_serve, port, reset, seed, as_of, **options):
        from jinshequ.demo import city as demo

        if settings.SETTINGS_MODULE and settings.SETTINGS_MODULE.endswith("settings_production"):
            raise CommandError("生产配置下不能建立演示城市（演示账号的密码是公开的）。")
        if not 1 <= port <= 65535:
            raise CommandError("端口应在 1–65535 之间。")
        verbosity = options.get("verbosity", 1)
        self.stdout.write("正在迁移数据库……")
        call_command("migrate", interactive=False, verbosity=max(0, verbosity - 1))

        if reset:
            self.stdout.write(self.style.WARNING("--reset：清空整个数据库……"))
            demo.reset_database()
        info = demo.demo_info()
        if info is not None:
            label = SCALE_LABELS.get(info.get("scale", ""), info.get("scale", "?"))
            self.stdout.write(
                f"数据库中已有演示城市（{label}，{info.get('members', 0):,} 名党员），直接使用。"
                "如需重建，请加 --reset。"
            )
            if info.get("scale") and info["scale"] != scale:
                self.stdout.write(
                    self.style.WARNING(
                        f"注意：现有演示城市是{label}，不是所要求的{SCALE_LABELS[scale]}；加 --reset 可按新规模重建。"
                    )
                )
        elif not demo.database_is_empty():
            raise CommandError(
                "数据库中已有其他数据（不是演示城市），不会覆盖。"
                "如确需用演示城市替换，请加 --reset（将清空整个数据库）。"
            )
        else:
            self.stdout.write(f"正在建立演示城市（{SCALE_LABELS[scale]}）……")
            result = demo.build_demo(
                scale=scale, seed=demo.DEFAULT_SEED if seed is None else seed, as_of=as_of
            )
            c = result.counts
            self.stdout.write(
                self.style.SUCCESS(
                    f"演示城市已建成：{c['districts']} 个区县、{c['streets']} 个街道（乡镇）、{c['communities']} 个社区、"
                    f"{c['units']:,} 个单位、{c['members']:,} 名党员。"
                )
            )
            if "records" in c:
                self.stdout.write(
                    f"报到 {c['registrations']:,} 条、联系卡 {c['cards']:,} 张、岗位 {c['posts']:,} 个、认领 {c['claims']:,} 条、"
                    f"服务队 {c['teams']:,} 支、困难家庭 {c['households']:,} 户、活动 {c['activities']:,} 场、"
                    f"报名 {c['signups']:,} 人次、服务记录 {c['records']:,} 条。"
                )
            names = {
                "regions": "区域",
                "units": "单位",
                "members": "生成党员",
                "write": "写入党员",
                "accounts": "账号",
                "registrations": "报到",
                "write registrations": "写入报到",
                "posts": "岗位与认领",
                "teams": "服务队与结对",
                "activities": "活动与报名",
                "records": "服务记录",
                "write records": "写入服务记录",
                "checklists": "清单",
                "analyze": "统计信息（ANALYZE）",
            }
            steps = "，".join(f"{names.get(k, k)} {v:.1f} 秒" for k, v in result.phases.items())
            self.stdout.write(
                f"建成用时 {result.seconds:.1f} 秒（build time {result.seconds:.1f} s，"
                f"CPU {result.cpu_seconds:.1f} s；{steps}）"
            )

        url = f"http://127.0.0.1:{port}/"
        self.stdout.write("")
        self.stdout.write(f"网址：{url}")
        rows = [(a.username, a.role, a.scope) for a in demo.demo_accounts()]
        self.stdout.write(format_table(("用户名", "角色", "范围"), rows))
        self.stdout.write(f"所有演示账号的密码：{DEMO_PASSWORD}（党员账号也可用手机号登录）")
        self.stdout.write("")
        if no_serve:
            return
        self._serve(port)

    def _serve(self, port: int) -> None:
        worker = None
        backend = settings.TASKS.get("default", {}).get("BACKEND", "")
        if backend == "django_tasks_db.DatabaseBackend":
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}
            worker = subprocess.Popen(
                [sys.executable, "-m", "django", "db_worker", "--no-startup-delay"], env=env
            )
            self.stdout.write(f"后台任务进程（db_worker）已启动，进程号 {worker.pid}。")
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        finally:
            signal.signal(signal.SIGTERM, previous)
            if worker is not None and worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)
