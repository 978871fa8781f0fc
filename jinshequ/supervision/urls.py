from django.urls import path

from jinshequ.supervision import views as v

app_name = "supervision"
urlpatterns = [
    # completion up the trees (oversight roles, each in scope)
    path("", v.overview, name="overview"),
    path("units/", v.overview_units, name="overview_units"),
    # the member (phone first)
    path("me/", v.me, name="me"),
    # the city admin: the items of each campaign
    path("items/", v.items, name="items"),
    path("items/defaults/", v.defaults, name="defaults"),
    path("items/<int:pk>/edit/", v.item_edit, name="item_edit"),
    path("items/<int:pk>/move/", v.item_move, name="item_move"),
    path("items/<int:pk>/delete/", v.item_delete, name="item_delete"),
    # a community's 十个有, a member's 四个一
    path("communities/<int:pk>/", v.community, name="community"),
    path("communities/<int:pk>/mark/", v.community_mark, name="community_mark"),
    path("members/", v.members, name="members"),
    path("members/<int:pk>/", v.member, name="member"),
    path("members/<int:pk>/mark/", v.member_mark, name="member_mark"),
]
