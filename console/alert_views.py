"""Alert pages: rules (create, enable/disable) and alerts (acknowledge)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from audit.services import record
from console import alerts
from console.models import Alert, AlertRule
from dcp.net.outbound import validate_outbound_url
from tenants.permissions import Action, acting_user
from tenants.views import requires


class AlertRuleForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        validators=[validate_outbound_url],  # SSRF guard; the send is checked again
    )

    class Meta:
        model = AlertRule
        fields = (
            "name",
            "kind",
            "interface_id",
            "threshold",
            "window_minutes",
            "emails",
            "webhook_url",
        )


@requires(Action.VIEW_MESSAGES)
def alert_list(request: HttpRequest) -> HttpResponse:
    form = AlertRuleForm(request.POST or None)
    if request.method == "POST":
        user = acting_user(request)
        from tenants import permissions

        if not permissions.allowed(user, Action.OPERATE_MESSAGES, request.tenant):  # type: ignore[attr-defined]
            return render(request, "errors/forbidden.html", status=403)
        if form.is_valid():
            rule = form.save(commit=False)
            rule.created_by = user.email
            rule.save()
            record(action="console.alert_rule.created", actor=user, target=rule)
            return redirect("console:alerts")
    return render(
        request,
        "console/alerts.html",
        {
            "form": form,
            "rules": AlertRule.objects.all(),
            "alerts": Alert.objects.select_related("rule")[:100],
        },
        status=400 if form.errors else 200,
    )


@requires(Action.OPERATE_MESSAGES)
@require_POST
def alert_ack(request: HttpRequest, pk: int) -> HttpResponse:
    alerts.acknowledge(alert=get_object_or_404(Alert, pk=pk), user=acting_user(request))
    return redirect("console:alerts")
