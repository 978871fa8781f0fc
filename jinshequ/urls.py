from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from jinshequ.core import views as core_views
from jinshequ.site import views as site_views

urlpatterns = [
    path("", site_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("accounts/", include("jinshequ.accounts.urls")),
    path("regions/", include("jinshequ.regions.urls")),
    path("units/", include("jinshequ.units.urls")),
    path("members/import/", include("jinshequ.imports.urls")),
    path("members/", include("jinshequ.members.urls")),
    path("report/", include("jinshequ.members.urls_report")),
    path("cards/", include("jinshequ.members.urls_cards")),
    path("roster/", include("jinshequ.members.urls_roster")),
    path("campaigns/", include("jinshequ.campaigns.urls")),
    path("stats/", include("jinshequ.stats.urls")),
    path("posts/", include("jinshequ.posts.urls")),
    path("supervision/", include("jinshequ.supervision.urls")),
    path("activities/", include("jinshequ.activities.urls")),
    path("records/", include("jinshequ.activities.urls_records")),
]

handler404 = "jinshequ.core.views.page_not_found"
handler500 = "jinshequ.core.views.server_error"
handler403 = "jinshequ.core.views.permission_denied"
