from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "jinshequ.accounts"
    label = "accounts"
    verbose_name = "账户"
