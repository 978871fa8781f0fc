from django.urls import path

from jinshequ.members import views_roster as v

app_name = "roster"
urlpatterns = [
    path("", v.roster, name="unit"),
    path("outstanding.xlsx", v.outstanding_export, name="outstanding_xlsx"),
    path("remind/", v.remind, name="remind"),
    path("members/<int:pk>/exempt/", v.exemption_set, name="exempt"),
    path("exemptions/<int:pk>/revoke/", v.exemption_revoke, name="exemption_revoke"),
    path("inbox/", v.inbox, name="inbox"),
]
