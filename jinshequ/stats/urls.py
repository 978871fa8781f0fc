from django.urls import path

from jinshequ.stats import views

app_name = "stats"
urlpatterns = [
    path("registration/", views.registration, name="registration"),
    path("registration/members/", views.registration_members, name="registration_members"),
]
