from django.urls import path

from jinshequ.activities import views as v

app_name = "activities"
urlpatterns = [
    # the member (phone first)
    path("", v.member_list, name="list"),
    path("<int:pk>/", v.member_detail, name="detail"),
    path("<int:pk>/signup/", v.signup, name="signup"),
    path("<int:pk>/cancel/", v.signup_cancel, name="cancel"),
    path("calendar.ics", v.calendar, name="calendar"),
    path("checkin/<str:token>/", v.checkin, name="checkin"),
    # organisers: the community admin, and team leaders for their teams' activities
    path("manage/", v.manage, name="manage"),
    path("manage/new/", v.create, name="create"),
    path("manage/<int:pk>/", v.manage_detail, name="manage_detail"),
    path("manage/<int:pk>/edit/", v.edit, name="edit"),
    path("manage/<int:pk>/cancel/", v.cancel, name="activity_cancel"),
    path("manage/<int:pk>/screen/", v.screen, name="screen"),
    path("manage/<int:pk>/screen/code/", v.screen_code, name="screen_code"),
    path("manage/<int:pk>/scan/", v.scan, name="scan"),
    # the community admin only
    path("manage/signups/<int:pk>/confirm/", v.confirm, name="confirm"),
    path("manage/no-shows/", v.no_shows, name="no_shows"),
]
