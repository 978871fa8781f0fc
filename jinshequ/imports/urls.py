"""The job pages of every import kind, mounted at /members/import/ (the public paths stay); each kind's
upload page has its own app's URL (``members:import``, ``units:import``)."""

from django.urls import path

from jinshequ.imports import views

app_name = "imports"

urlpatterns = [
    path("template/", views.import_template, name="template"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/confirm/", views.import_confirm, name="confirm"),
    path("<int:pk>/errors/", views.import_errors, name="errors"),
]
