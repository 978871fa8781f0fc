from django.urls import path

from jinshequ.activities import views_records as v

app_name = "records"
urlpatterns = [
    # the member (phone first)
    path("", v.my_records, name="mine"),
    path("new/", v.record_create, name="create"),
    path("<int:pk>/", v.record_detail, name="detail"),
    path("<int:pk>/photo/", v.record_photo, name="photo"),
    path("<int:pk>/resident/", v.resident_code, name="resident_code"),
    # the resident, on their own phone (public)
    path("confirm/<str:token>/", v.confirm, name="confirm"),
    # the community admin
    path("queue/", v.queue, name="queue"),
    path("queue/verify/", v.verify_batch, name="verify_batch"),
    path("<int:pk>/verify/", v.verify, name="verify"),
    path("<int:pk>/reject/", v.reject, name="reject"),
    # staff who read manuals (community and unit admins, inspectors)
    path("all/", v.record_list, name="list"),
    path("manuals/", v.manuals, name="manuals"),
    # the work manual (工作手册)
    path("manual/", v.my_manual, name="my_manual"),
    path("manual/<int:member_id>/", v.manual, name="manual"),
    path("manual/<int:member_id>/pdf/", v.manual_pdf, name="manual_pdf"),
    path("manual/<int:member_id>/more/<slug:section>/", v.manual_more, name="manual_more"),
    # service certificates (服务证明)
    path("certificates/<int:member_id>/", v.certificates, name="certificates"),
    path("certificates/pdf/<int:pk>/", v.certificate_pdf, name="certificate_pdf"),
    path("certificates/revoke/<int:pk>/", v.certificate_revoke, name="certificate_revoke"),
    path("certificate/<str:token>/", v.certificate_check, name="certificate_check"),
]
