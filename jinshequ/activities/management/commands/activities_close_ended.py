"""Nightly: close the activities that ended (plus the check-in grace) and record their no-shows. Safe to
run again: a closed activity is skipped."""

from django.core.management.base import BaseCommand

from jinshequ.activities.services import activities_close_ended


class Command(BaseCommand):
    help = (
        "Mark signed-up members who neither checked in nor cancelled as no-shows once an activity has ended."
    )

    def handle(self, *args, **options):
        result = activities_close_ended()
        self.stdout.write(
            f"activities closed: {result['activities']}, no-shows recorded: {result['no_shows']}"
        )
