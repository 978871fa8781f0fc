from django.core.management.base import BaseCommand, CommandError

from jinshequ.site.integrity import check_integrity


class Command(BaseCommand):
    help = "Check cross-table invariants (one registration per member, paths, cards …); exit 1 on problems."

    def handle(self, *args, **options):
        problems = check_integrity()
        for p in problems:
            self.stdout.write(f"PROBLEM {p}")
        if problems:
            raise CommandError(f"{len(problems)} integrity problem(s)")
        self.stdout.write("integrity: 0 problems")
