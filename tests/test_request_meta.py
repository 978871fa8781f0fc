"""The audit log gets the request's address and id from the request being served, so services need not take
the request as a parameter; outside a request nothing leaks in from an earlier one."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from jinshequ.accounts.models import AuditEvent
from jinshequ.accounts.services import audit
from jinshequ.core.middleware import RequestIdMiddleware, current_request_meta


@pytest.mark.django_db
def test_a_service_audits_the_address_and_id_of_the_request_it_serves():
    def view(request):
        audit(event="test.happened", actor_name="测试")  # no request passed, as a service would
        return HttpResponse("ok")

    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9")
    response = RequestIdMiddleware(view)(request)
    event = AuditEvent.objects.get(event="test.happened")
    assert event.ip == "203.0.113.9"
    assert event.request_id == response["X-Request-ID"] != ""
    assert current_request_meta() is None  # reset once the request is answered

    audit(event="test.later", actor_name="测试")  # a command: no request, no address
    later = AuditEvent.objects.get(event="test.later")
    assert later.ip == "" and later.request_id == ""


@pytest.mark.django_db
def test_a_forwarded_address_is_not_trusted_from_a_direct_peer():
    def view(request):
        audit(event="test.spoof", actor_name="测试")
        return HttpResponse("ok")

    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="1.2.3.4")
    RequestIdMiddleware(view)(request)
    assert AuditEvent.objects.get(event="test.spoof").ip == "198.51.100.7"


@pytest.mark.django_db
def test_after_an_english_page_the_thread_speaks_chinese_again(client, settings):
    """Work that runs on the same thread after a request (a task, a command) is not in the last visitor's
    language."""
    from django.utils import translation

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Sign in" in client.get("/accounts/login/").content.decode()
    assert translation.get_language() == settings.LANGUAGE_CODE
    assert translation.gettext("请填写姓名。") == "请填写姓名。"
