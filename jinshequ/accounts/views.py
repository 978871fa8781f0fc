from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from jinshequ.accounts.backends import UsernameOrPhoneBackend, find_user
from jinshequ.accounts.exports import AuditLogExporter
from jinshequ.accounts.forms import AuditFilterForm, LoginForm, PasswordChangeForm
from jinshequ.accounts.middleware import SESSION_LAST_SEEN, SESSION_LOGIN_AT
from jinshequ.accounts.models import AuditEvent
from jinshequ.accounts.perms import Perm, require_perm
from jinshequ.accounts.services import (
    audit,
    lockout_remaining,
    login_failed,
    login_succeeded,
)
from jinshequ.accounts.services import (
    password_change as password_change_service,
)
from jinshequ.core.logging import mask_text

BAD_CREDENTIALS = _("用户名或密码不正确。")


def _locked_message(minutes: int) -> str:
    return ngettext(
        "账户已锁定，请 %(minutes)s 分钟后再试。", "账户已锁定，请 %(minutes)s 分钟后再试。", minutes
    ) % {"minutes": minutes}


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return target


@login_not_required
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = LoginForm(request.POST or None)
    error = gettext("登录已过期，请重新登录。") if request.GET.get("expired") else None
    if request.method == "POST" and form.is_valid():
        identifier = form.cleaned_data["username"]
        user = find_user(identifier)
        if user is not None and lockout_remaining(user):
            error = _locked_message(lockout_remaining(user))
            audit(event="auth.login_failed", request=request, obj=user, success=False, reason="locked")
        else:
            authed = UsernameOrPhoneBackend().authenticate(
                request, username=identifier, password=form.cleaned_data["password"]
            )
            if authed is None and user is not None:
                locked = login_failed(user=user, request=request)
                audit(
                    event="auth.login_failed",
                    request=request,
                    obj=user,
                    success=False,
                    reason="locked" if locked else "bad password",
                )
                error = _locked_message(lockout_remaining(user)) if locked else BAD_CREDENTIALS
            elif authed is None:
                # The identifier may be a phone number: never store it in plain text (R20).
                audit(
                    event="auth.login_failed",
                    request=request,
                    success=False,
                    object_type="accounts.user",
                    object_repr=mask_text(identifier)[:60],
                    reason="unknown user",
                )
                error = BAD_CREDENTIALS
            elif not login_succeeded(user=authed):
                # Locked by a concurrent failure after our check above: the lock wins.
                authed.refresh_from_db(fields=["locked_until"])
                audit(event="auth.login_failed", request=request, obj=authed, success=False, reason="locked")
                error = _locked_message(lockout_remaining(authed))
            else:
                login(request, authed, backend="jinshequ.accounts.backends.UsernameOrPhoneBackend")
                now = timezone.now().timestamp()
                request.session[SESSION_LOGIN_AT] = now
                request.session[SESSION_LAST_SEEN] = now
                audit(event="auth.login", request=request, actor=authed, obj=authed)
                return redirect(_safe_next(request) or "home")
    return render(request, "accounts/login.html", {"form": form, "error": error, "next": _safe_next(request)})


@require_POST
def logout_view(request):
    user = request.user
    audit(event="auth.logout", request=request, actor=user, obj=user)
    logout(request)  # flushes the session: the row is deleted, the old cookie is worthless (R10)
    return redirect("accounts:login")


@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                password_change_service(
                    user=request.user,
                    old_password=form.cleaned_data["old_password"],
                    new_password=form.cleaned_data["new_password1"],
                    request=request,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                # Keeps this session; every other session of the user is now invalid (R12).
                update_session_auth_hash(request, request.user)
                messages.success(request, gettext("密码已修改。"))
                return redirect("home")
        else:
            audit(
                event="auth.password_changed",
                request=request,
                obj=request.user,
                success=False,
                reason="invalid " + ", ".join(sorted(form.errors)),
            )
    return render(request, "accounts/password_change.html", {"form": form})


def _filtered_audit_events(form: AuditFilterForm):
    qs = AuditEvent.objects.all()
    if not form.is_valid():
        return qs
    d = form.cleaned_data
    if d["q"]:
        qs = qs.filter(
            Q(actor_name__icontains=d["q"])
            | Q(object_repr__icontains=d["q"])
            | Q(reason__icontains=d["q"])
            | Q(object_id=d["q"])
        )
    if d["event"]:
        qs = qs.filter(event=d["event"])
    if d["actor_role"]:
        qs = qs.filter(actor_role=d["actor_role"])
    tz = timezone.get_current_timezone()
    if d["date_from"]:
        qs = qs.filter(created_at__gte=dt.datetime.combine(d["date_from"], dt.time.min, tz))
    if d["date_to"]:
        qs = qs.filter(
            created_at__lt=dt.datetime.combine(d["date_to"] + dt.timedelta(days=1), dt.time.min, tz)
        )
    return qs


def _change_text(value) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        old, new = ("—" if v in (None, "") else str(v) for v in value)
        return f"{old} → {new}"
    return str(value)


@require_perm(Perm.AUDIT_VIEW)
@require_http_methods(["GET"])
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    qs = _filtered_audit_events(form)
    filters = {k: v for k, v in request.GET.items() if k not in ("page", "format") and v}
    if request.GET.get("format") == "xlsx":
        return AuditLogExporter(user=request.user, queryset=qs, params=filters).response()
    audit(
        event="audit.viewed", request=request, object_type="accounts.auditevent", reason=f"filters={filters}"
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    for event in page:
        event.changes_display = [(key, _change_text(value)) for key, value in (event.changes or {}).items()]
    querystring = request.GET.copy()
    querystring.pop("page", None)
    querystring_base = querystring.urlencode() + "&" if querystring else ""
    export_query = querystring.copy()
    export_query["format"] = "xlsx"
    return render(
        request,
        "accounts/audit_list.html",
        {
            "form": form,
            "page": page,
            "querystring_base": querystring_base,
            "export_query": export_query.urlencode(),
        },
    )
