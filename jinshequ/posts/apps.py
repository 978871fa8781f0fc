from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostsConfig(AppConfig):
    name = "jinshequ.posts"
    label = "posts"
    verbose_name = _("岗位与服务队")
