from django.urls import path

from jinshequ.units import import_views, views

app_name = "units"
urlpatterns = [
    path("", views.unit_list, name="list"),
    path("new/", views.unit_create, name="create"),
    path("import/", import_views.unit_import, name="import"),
    path("<int:pk>/", views.unit_detail, name="detail"),
    path("<int:pk>/edit/", views.unit_edit, name="edit"),
    path("<int:pk>/active/", views.unit_set_active, name="set_active"),
]
