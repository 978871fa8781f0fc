"""``jinshequ check_system``: are the system packages the project needs installed?

The CJK font is needed for every PDF (contact cards, manuals, posters); Chromium for the browser
tests. Missing pieces make the command fail with the exact ``apt-get install`` line; with
``--for-tests`` (used by ``make test``) it only warns and exits 0.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from jinshequ.core import system


class Command(BaseCommand):
    help = "检查系统组件：中文字体（Noto CJK）和 Chromium。Check the CJK font and Chromium."

    def add_arguments(self, parser):
        parser.add_argument(
            "--for-tests",
            action="store_true",
            help="缺少组件时只警告、不报错（退出码 0），供 make test 使用。",
        )

    def handle(self, *args, for_tests: bool = False, **options):
        font_ok = system.cjk_font_available()
        browser = system.chromium_path()
        if font_ok:
            families = system.cjk_font_families()
            detail = "、".join(families[:3]) + (f" 等 {len(families)} 种" if len(families) > 3 else "")
            self.stdout.write(self.style.SUCCESS(f"[正常] 中文字体：{detail or '已找到 Noto CJK 字体文件'}"))
        else:
            self.stdout.write(
                self.style.ERROR(
                    "[缺少] 中文字体（Noto CJK）：生成的 PDF（联系卡、工作手册、公示海报）中文会显示为空白方框。"
                )
            )
        if browser:
            self.stdout.write(self.style.SUCCESS(f"[正常] Chromium 浏览器：{browser}"))
        else:
            self.stdout.write(
                self.style.ERROR("[缺少] Chromium 浏览器（/usr/bin/chromium）：浏览器测试无法运行。")
            )

        hint = system.install_hint(font=not font_ok, chromium=browser is None)
        if not hint:
            self.stdout.write(self.style.SUCCESS("系统检查通过。"))
            return
        advice = f"请以 root 身份安装：{hint}"
        if for_tests:
            self.stdout.write(
                self.style.WARNING(f"警告：系统组件不全，依赖它们的测试将被跳过或失败。{advice}")
            )
            return
        raise CommandError(f"系统检查未通过。{advice}")
