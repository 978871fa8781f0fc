from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "jinshequ.site"
    label = "site"
    verbose_name = "站点"

    def ready(self) -> None:
        from jinshequ.site import checks  # noqa: F401  (registers the deploy checks that need domain models)
