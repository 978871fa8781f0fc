"""Campaign settings: only the city admin manages them; exactly one campaign is current; audited."""

import datetime as dt

import pytest
from django.utils import timezone

from jinshequ.accounts.models import AuditEvent
from jinshequ.campaigns.models import Campaign
from tests.factories import make_campaign


def _form(**extra):
    today = timezone.localdate()
    data = {
        "name": "2027年在职党员进社区",
        "starts_on": today.isoformat(),
        "ends_on": (today + dt.timedelta(days=200)).isoformat(),
        "report_deadline": (today + dt.timedelta(days=60)).isoformat(),
        "target_rate": "95",
        "max_active_posts": "2",
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    "role", ["district_admin", "street_admin", "community_admin", "unit_admin", "inspector", "member"]
)
def test_only_city_admin_reaches_campaign_pages(world, client, login, role):
    campaign = make_campaign()
    login(world.a.users[role])
    assert client.get("/campaigns/").status_code == 403
    assert client.get("/campaigns/new/").status_code == 403
    assert client.post("/campaigns/new/", _form()).status_code == 403
    assert client.post(f"/campaigns/{campaign.pk}/current/").status_code == 403
    assert Campaign.objects.count() == 1


def test_create_lists_and_audits(world, client, login):
    login(world.city_admin)
    response = client.post("/campaigns/new/", _form(make_current="on"))
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.is_current and campaign.max_active_posts == 2 and campaign.target_rate == 95
    events = list(AuditEvent.objects.filter(object_type="campaigns.campaign").values_list("event", flat=True))
    assert sorted(events) == ["campaign.created", "campaign.set_current"]
    body = client.get("/campaigns/").content.decode()
    assert "2027年在职党员进社区" in body and "当前周期" in body


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("ends_on", "2000-01-01", "结束日期不能早于开始日期"),
        ("report_deadline", "2100-01-01", "报到截止日期应在活动周期之内"),
        ("target_rate", "101", ""),
        ("max_active_posts", "0", ""),
    ],
)
def test_create_rejects_inconsistent_values(world, client, login, field, value, message):
    login(world.city_admin)
    response = client.post("/campaigns/new/", _form(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "请修改下面标出的错误" in response.content.decode()
    assert not Campaign.objects.exists()


def test_set_current_keeps_exactly_one_current(world, client, login):
    first = make_campaign()
    today = timezone.localdate()
    second = Campaign.objects.create(name="下一周期", starts_on=today, ends_on=today + dt.timedelta(days=10))
    login(world.city_admin)
    assert client.post(f"/campaigns/{second.pk}/current/").status_code == 302
    assert list(Campaign.objects.filter(is_current=True)) == [second]
    first.refresh_from_db()
    assert not first.is_current
    row = AuditEvent.objects.get(event="campaign.set_current")
    assert row.object_id == str(second.pk) and row.changes["current"] == [first.name, second.name]
    # setting it again changes nothing and writes nothing
    client.post(f"/campaigns/{second.pk}/current/")
    assert AuditEvent.objects.filter(event="campaign.set_current").count() == 1
    assert Campaign.objects.filter(is_current=True).count() == 1


def test_set_current_is_post_only(world, client, login):
    campaign = Campaign.objects.create(
        name="周期", starts_on=timezone.localdate(), ends_on=timezone.localdate()
    )
    login(world.city_admin)
    assert client.get(f"/campaigns/{campaign.pk}/current/").status_code == 405
    campaign.refresh_from_db()
    assert not campaign.is_current


def test_edit_changes_target_and_audits_old_and_new(world, client, login):
    campaign = make_campaign()
    login(world.city_admin)
    data = _form(
        name=campaign.name,
        starts_on=campaign.starts_on.isoformat(),
        ends_on=campaign.ends_on.isoformat(),
        report_deadline=campaign.report_deadline.isoformat(),
        target_rate="90",
        max_active_posts="3",
    )
    assert client.post(f"/campaigns/{campaign.pk}/edit/", data).status_code == 302
    campaign.refresh_from_db()
    assert campaign.target_rate == 90 and campaign.max_active_posts == 3 and campaign.is_current
    row = AuditEvent.objects.get(event="campaign.updated")
    assert row.changes["target_rate"][1] == "90" and row.changes["max_active_posts"] == ["2", "3"]
    assert client.get("/campaigns/999999/edit/").status_code == 404
