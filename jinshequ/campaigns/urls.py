from django.urls import path

from jinshequ.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/current/", views.campaign_set_current, name="set_current"),
]
