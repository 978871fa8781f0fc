"""The project's URLs plus two trivial views that exist only for benchmarks."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path

from jinshequ.urls import handler403, handler404, handler500  # noqa: F401
from jinshequ.urls import urlpatterns as project_urlpatterns


@login_not_required
def trivial(request):
    return HttpResponse(b"ok", content_type="text/plain")


def trivial_signed_in(request):
    """Login required (by the middleware): costs a session and a user lookup per request."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial/", trivial, name="bench_trivial"),
    path("bench/trivial-auth/", trivial_signed_in, name="bench_trivial_auth"),
    *project_urlpatterns,
]
