from django.urls import path

from jinshequ.posts import views as v

app_name = "posts"
urlpatterns = [
    # the member (phone first)
    path("", v.post_list, name="list"),
    path("<int:pk>/", v.post_detail, name="detail"),
    path("<int:pk>/claim/", v.claim, name="claim"),
    path("claims/<int:pk>/withdraw/", v.withdraw, name="withdraw"),
    path("teams/", v.teams, name="teams"),
    path("teams/<int:pk>/join/", v.team_join, name="team_join"),
    path("teams/<int:pk>/leave/", v.team_leave, name="team_leave"),
    path("households/mine/", v.my_households, name="my_households"),
    path("households/mine/<int:pk>/", v.my_household, name="my_household"),
    path("households/<int:pk>/reveal/", v.household_reveal, name="household_reveal"),
    # the community admin
    path("manage/", v.manage, name="manage"),
    path("manage/settings/", v.settings_update, name="settings"),
    path("manage/new/", v.post_create, name="create"),
    path("manage/<int:pk>/", v.manage_detail, name="manage_detail"),
    path("manage/<int:pk>/edit/", v.post_edit, name="edit"),
    path("manage/<int:pk>/deactivate/", v.post_deactivate, name="deactivate"),
    path("manage/<int:pk>/activate/", v.post_activate, name="activate"),
    path("manage/claims/", v.claims, name="claims"),
    path("manage/claims/<int:pk>/approve/", v.claim_approve, name="approve"),
    path("manage/claims/<int:pk>/reject/", v.claim_reject, name="reject"),
    path("manage/claims/<int:pk>/end/", v.claim_end, name="end"),
    path("manage/teams/", v.manage_teams, name="manage_teams"),
    path("manage/teams/<int:pk>/", v.manage_team, name="manage_team"),
    path("manage/teams/<int:pk>/action/", v.team_action, name="team_action"),
    path("manage/households/", v.households, name="households"),
    path("manage/households/<int:pk>/", v.household, name="household"),
    path("manage/households/<int:pk>/active/", v.household_active, name="household_active"),
    path("manage/households/<int:pk>/pair/", v.pair, name="pair"),
    path("manage/pairings/<int:pk>/end/", v.pairing_end, name="pairing_end"),
    # the city admin
    path("categories/", v.categories, name="categories"),
    # coverage (全员认领), every oversight role in its scope
    path("coverage/", v.coverage, name="coverage"),
    path("coverage/units/", v.coverage_units, name="coverage_units"),
    path("coverage/missing/", v.coverage_missing, name="coverage_missing"),
    path("coverage/missing/export/", v.coverage_export, name="coverage_export"),
]
