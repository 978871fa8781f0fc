"""Daily (e.g. 18:00): remind every signed-up member of tomorrow's activities. Safe to run again: each
sign-up is reminded once."""

from django.core.management.base import BaseCommand

from jinshequ.activities.services import reminders_send


class Command(BaseCommand):
    help = "Send the day-before reminder to members signed up for activities starting by the end of tomorrow."

    def handle(self, *args, **options):
        sent = reminders_send()
        self.stdout.write(f"activity reminders sent: {sent}")
