from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "jinshequ.posts"
    label = "posts"
    verbose_name = "岗位与服务队"
