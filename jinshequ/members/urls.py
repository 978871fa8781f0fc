from django.urls import path

from jinshequ.members import views

app_name = "members"
urlpatterns = [
    path("", views.member_list, name="list"),
    path("export/", views.member_export, name="export"),
    path("lookup/", views.member_lookup, name="lookup"),
    path("choices/<str:kind>/", views.member_choices, name="choices"),
    path("new/", views.member_create, name="create"),
    path("me/", views.member_me, name="me"),
    path("skills/", views.skill_list, name="skills"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/edit/", views.member_edit, name="edit"),
    path("<int:pk>/status/", views.member_set_status, name="set_status"),
    path("<int:pk>/reveal/", views.member_reveal, name="reveal"),
    path("<int:pk>/move/", views.member_move, name="move"),
    path("<int:pk>/merge/", views.member_merge, name="merge"),
    path("import/", views.import_upload, name="import"),  # the job pages: jinshequ.imports.urls
]
