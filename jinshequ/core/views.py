from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.csrf import requires_csrf_token


@login_not_required
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


@requires_csrf_token
@login_not_required
def page_not_found(request, exception=None):
    return render(request, "errors/404.html", status=404)


@requires_csrf_token
@login_not_required
def permission_denied(request, exception=None):
    return render(request, "errors/403.html", status=403)


@requires_csrf_token
@login_not_required
def server_error(request):
    rid = getattr(request, "request_id", "")
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"error": gettext("服务器内部错误"), "request_id": rid}, status=500)
    return render(request, "errors/500.html", {"request_id": rid}, status=500)
