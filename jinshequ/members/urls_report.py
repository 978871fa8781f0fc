from django.urls import path

from jinshequ.members import views_report as v

app_name = "report"
urlpatterns = [
    # the member (phone first)
    path("", v.report_start, name="start"),
    path("qr/<str:token>/", v.report_qr, name="qr"),
    path("card/", v.report_card, name="card"),
    path("history/", v.report_history, name="history"),
    path("inbox/", v.report_inbox, name="inbox"),
    path("<int:pk>/cancel/", v.report_cancel, name="cancel"),
    # the community admin
    path("pending/", v.pending, name="pending"),
    path("pending/confirm/", v.confirm_batch, name="confirm_batch"),
    path("<int:pk>/confirm/", v.confirm, name="confirm"),
    path("<int:pk>/reject/", v.reject, name="reject"),
    path("office/", v.office, name="office"),
    path("poster/", v.poster, name="poster"),
    # the ledger (community admins; oversight roles with ?community=<id>)
    path("ledger/", v.ledger, name="ledger"),
    path("ledger/export/", v.ledger_export, name="ledger_export"),
    path("ledger/print/", v.ledger_print, name="ledger_print"),
]
