"""Pages: inventory + health, detail, request, import, alerts (tenant host); platform health
(staff, platform host). Every write goes through certificates.services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tenants import permissions
from tenants.permissions import Action, acting_user
from tenants.views import _form_errors, requires

from . import selectors, services, tasks
from .forms import ImportForm, RequestForm, RevokeForm, SwitchOverForm
from .models import Alert, Certificate, Environment, Provider
from .providers import ProviderError


def _can_manage(request: HttpRequest) -> bool:
    return permissions.allowed(request.user, Action.MANAGE_CONFIGURATION, request.tenant)  # type: ignore[attr-defined]


@requires(Action.VIEW_CONFIGURATION)
def inventory(request: HttpRequest) -> HttpResponse:
    f = {k: request.GET.get(k, "").strip() for k in ("environment", "state", "dip_id", "q")}
    qs = selectors.certificate_list(
        environment=f["environment"], state=f["state"], dip_id=f["dip_id"], query=f["q"]
    )
    return render(
        request,
        "certificates/inventory.html",
        {
            "page": Paginator(qs, 25).get_page(request.GET.get("page")),
            "filters": f,
            "health": selectors.health(),
            "environments": Environment.choices,
            "states": Certificate.State.choices,
            "can_manage": _can_manage(request),
        },
    )


@requires(Action.VIEW_CONFIGURATION)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    cert = get_object_or_404(Certificate, pk=pk)
    return render(
        request,
        "certificates/detail.html",
        {
            "cert": cert,
            "alerts": cert.alerts.all()[:20],
            "successor": selectors.successor_of(cert),
            "can_manage": _can_manage(request),
            "revoke_form": RevokeForm(),
            "switch_form": SwitchOverForm(),
        },
    )


@requires(Action.MANAGE_CONFIGURATION)
def request_new(request: HttpRequest) -> HttpResponse:
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cert = services.request_certificate(actor=acting_user(request), **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Certificate requested; it is issued in the background.")
            return redirect("certificates:detail", pk=cert.pk)
    return render(
        request, "certificates/form.html", {"form": form, "title": "Request a certificate"}
    )


@requires(Action.MANAGE_CONFIGURATION)
def import_existing(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        upload = data.pop("pkcs12")
        try:
            cert = services.import_certificate(
                actor=acting_user(request), pkcs12=upload.read() if upload else b"", **data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Imported; the certificate is {cert.get_state_display()}.")
            return redirect("certificates:detail", pk=cert.pk)
    return render(
        request,
        "certificates/form.html",
        {"form": form, "title": "Import a certificate", "multipart": True},
    )


@require_POST
@requires(Action.MANAGE_CONFIGURATION)
def renew(request: HttpRequest, pk: int) -> HttpResponse:
    cert = get_object_or_404(Certificate, pk=pk)
    if cert.provider == Provider.IMPORTED or cert.state != Certificate.State.ACTIVE:
        messages.error(request, "Only active certificates from a provider can be renewed here.")
    else:
        tasks.renew_certificate.delay(cert.pk)
        messages.success(request, "Renewal started.")
    return redirect("certificates:detail", pk=pk)


@require_POST
@requires(Action.MANAGE_CONFIGURATION)
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.revoke_certificate(
                certificate_id=pk, reason=form.cleaned_data["reason"], actor=acting_user(request)
            )
            messages.success(request, "Certificate revoked.")
        except ProviderError as exc:
            messages.error(request, f"The provider refused the revocation: {exc}")
    return redirect("certificates:detail", pk=pk)


@require_POST
@requires(Action.MANAGE_CONFIGURATION)
def switch_over(request: HttpRequest, pk: int) -> HttpResponse:
    form = SwitchOverForm(request.POST)
    if form.is_valid():
        try:
            services.schedule_switch_over(
                certificate_id=pk,
                at=form.cleaned_data["switch_over_at"],
                actor=acting_user(request),
            )
            messages.success(request, "Switch-over scheduled.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("certificates:detail", pk=pk)


@requires(Action.VIEW_CONFIGURATION)
def alerts(request: HttpRequest) -> HttpResponse:
    qs = Alert.objects.select_related("certificate", "domain_verification")
    if request.GET.get("open"):
        qs = qs.filter(acknowledged_at__isnull=True)
    return render(
        request,
        "certificates/alerts.html",
        {
            "page": Paginator(qs, 50).get_page(request.GET.get("page")),
            "can_manage": _can_manage(request),
        },
    )


@require_POST
@requires(Action.MANAGE_CONFIGURATION)
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    services.acknowledge_alert(
        alert_id=get_object_or_404(Alert, pk=pk).pk, actor=acting_user(request)
    )
    return redirect("certificates:alerts")


@requires(Action.VIEW_PLATFORM)
def platform_health(request: HttpRequest) -> HttpResponse:
    return render(
        request, "certificates/platform_health.html", {"rows": selectors.platform_health()}
    )
