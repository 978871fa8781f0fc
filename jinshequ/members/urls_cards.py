from django.urls import path

from jinshequ.members import views_cards as v

app_name = "cards"
urlpatterns = [
    # contact cards (联系卡): unit admins print in batch, reissue a lost card, print one card
    path("unit/", v.card_unit, name="unit"),
    path("unit/<int:unit_id>/pdf/", v.card_unit_pdf, name="unit_pdf"),
    path("member/<int:member_id>/pdf/", v.card_member_pdf, name="member_pdf"),
    path("member/<int:member_id>/reissue/", v.card_reissue, name="reissue"),
    # report-in receipts (报到回执) for the unit's files
    path("receipts/", v.receipts, name="receipts"),
    path("receipt/<int:member_id>/pdf/", v.receipt_member_pdf, name="receipt_pdf"),
    path("receipts/unit/<int:unit_id>/pdf/", v.receipts_unit_pdf, name="receipts_unit_pdf"),
    # the community's report-in poster
    path("poster/<int:community_id>/pdf/", v.poster_pdf, name="poster_pdf"),
]
