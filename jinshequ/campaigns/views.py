"""Campaign settings (city admin): period, report-in deadline, target rate, the current campaign."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from jinshequ.accounts.perms import Perm, require_perm
from jinshequ.campaigns import services
from jinshequ.campaigns.forms import CampaignForm
from jinshequ.campaigns.models import Campaign


@require_perm(Perm.CAMPAIGN_MANAGE)
def campaign_list(request):
    campaigns = list(Campaign.objects.all())
    return render(
        request, "campaigns/campaign_list.html", {"campaigns": campaigns, "today": timezone.localdate()}
    )


@require_perm(Perm.CAMPAIGN_MANAGE)
def campaign_create(request):
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(
                actor=request.user,
                request=request,
                make_current=form.cleaned_data["make_current"],
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.apply_service_errors(exc)
        else:
            messages.success(request, gettext("已新建活动周期“%(name)s”。") % {"name": campaign.name})
            return redirect("campaigns:list")
    return render(request, "campaigns/campaign_form.html", {"form": form, "creating": True})


@require_perm(Perm.CAMPAIGN_MANAGE)
def campaign_edit(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    initial = {
        k: getattr(campaign, k)
        for k in ("name", "starts_on", "ends_on", "report_deadline", "target_rate", "max_active_posts")
    }
    form = CampaignForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(
                campaign=campaign, actor=request.user, request=request, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.apply_service_errors(exc)
        else:
            messages.success(request, gettext("已保存活动周期设置。"))
            return redirect("campaigns:list")
    return render(
        request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign, "creating": False}
    )


@require_POST
@require_perm(Perm.CAMPAIGN_MANAGE)
def campaign_set_current(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    services.campaign_set_current(campaign=campaign, actor=request.user, request=request)
    messages.success(request, gettext("“%(name)s”已设为当前活动周期。") % {"name": campaign.name})
    return redirect("campaigns:list")
