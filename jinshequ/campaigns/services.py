"""Writes to campaigns (活动周期). Each runs in one transaction and audits inside it.

Exactly one campaign is current at a time: ``campaign_set_current`` clears the flag on the others
before setting it (the partial unique constraint ``one_current_campaign`` is the backstop).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from jinshequ.accounts.services import audit, model_changes
from jinshequ.campaigns.models import Campaign

FIELDS = ("name", "starts_on", "ends_on", "report_deadline", "target_rate", "max_active_posts")


def _snapshot(campaign: Campaign) -> dict:
    return {name: getattr(campaign, name) for name in FIELDS}


def _validate(campaign: Campaign) -> None:
    """Field checks with Chinese messages, then the model's own validation (ranges, constraints)."""
    errors = {}
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        errors["ends_on"] = gettext("结束日期不能早于开始日期。")
    deadline = campaign.report_deadline
    if (
        deadline
        and campaign.starts_on
        and campaign.ends_on
        and not campaign.starts_on <= deadline <= campaign.ends_on
    ):
        errors["report_deadline"] = gettext("报到截止日期应在活动周期之内。")
    if campaign.max_active_posts is not None and campaign.max_active_posts < 1:
        errors["max_active_posts"] = gettext("每名党员最多认领岗位数至少为 1。")
    if errors:
        raise ValidationError(errors)
    campaign.full_clean(exclude=["is_current"])


@transaction.atomic
def campaign_create(*, actor, request=None, make_current: bool = False, **fields) -> Campaign:
    """Create a campaign; ``make_current`` also makes it the current one.

    Raises ``ValidationError`` (field errors in Chinese) when the values are inconsistent.
    """
    campaign = Campaign(**{k: v for k, v in fields.items() if k in FIELDS})
    _validate(campaign)
    campaign.save()
    audit(
        event="campaign.created",
        actor=actor,
        request=request,
        obj=campaign,
        changes={k: [None, None if v is None else str(v)] for k, v in _snapshot(campaign).items()},
    )
    if make_current:
        campaign_set_current(campaign=campaign, actor=actor, request=request)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor, request=None, **fields) -> Campaign:
    """Change a campaign's settings. Raises ``ValidationError``; nothing is saved then."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    old = _snapshot(campaign)
    for name, value in fields.items():
        if name in FIELDS:
            setattr(campaign, name, value)
    _validate(campaign)
    changes = model_changes(campaign, old, FIELDS)
    if changes:
        campaign.save(update_fields=[*changes, "updated_at"])
        audit(event="campaign.updated", actor=actor, request=request, obj=campaign, changes=changes)
    return campaign


@transaction.atomic
def campaign_set_current(*, campaign: Campaign, actor, request=None) -> Campaign:
    """Make ``campaign`` the only current campaign (report-in, deadlines and targets follow it)."""
    previous = list(Campaign.objects.select_for_update().filter(is_current=True).exclude(pk=campaign.pk))
    if previous:
        Campaign.objects.filter(pk__in=[c.pk for c in previous]).update(is_current=False)
    updated = Campaign.objects.filter(pk=campaign.pk, is_current=False).update(is_current=True)
    campaign.is_current = True
    if updated or previous:
        audit(
            event="campaign.set_current",
            actor=actor,
            request=request,
            obj=campaign,
            changes={"current": [previous[0].name if previous else None, campaign.name]},
        )
    return campaign
