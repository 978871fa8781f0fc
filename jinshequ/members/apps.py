from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "jinshequ.members"
    label = "members"
    verbose_name = "党员"
