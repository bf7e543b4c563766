"""Platform-host pages for DCP staff (/onboarding/): the onboarding board, DIP ID requests,
our DCP status and DCP IDs, transfers and offboarding."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from dcpregistry import selectors as registry_selectors
from dcpregistry import services as registry
from dcpregistry.environments import Environment
from dcpregistry.models import DcpId, DcpStatus, Transfer
from participants import forms, selectors
from participants.api.views_more import board_rows
from participants.models import DipId
from participants.services import dip_ids, offboarding, transfer
from participants.views import _form_error, _run
from tenants.models import Tenant
from tenants.permissions import Action, acting_user
from tenants.views import requires


def _clients() -> list[Tenant]:
    return list(Tenant.objects.filter(kind=Tenant.Kind.CLIENT).order_by("name"))


@requires(Action.VIEW_PLATFORM)
def board(request: HttpRequest) -> HttpResponse:
    requests = []
    for tenant in _clients():
        if tenant.is_active:
            with tenant_context(tenant):
                requests += [
                    (tenant, d) for d in selectors.dip_ids().filter(status=DipId.Status.REQUESTED)
                ]
    return render(
        request,
        "participants/board.html",
        {
            "rows": board_rows(Tenant.objects.filter(kind=Tenant.Kind.CLIENT).order_by("name")),
            "requests": requests,
        },
    )


@require_POST
@requires(Action.APPROVE_REQUESTS)
def decide_request(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug, kind=Tenant.Kind.CLIENT)
    actor = acting_user(request)
    with tenant_context(tenant):
        dip = get_object_or_404(DipId, pk=pk)
        if request.POST.get("decision") == "approve":
            _run(
                request,
                lambda: dip_ids.approve_dip_id(
                    dip_id=dip, actor=actor, value=request.POST.get("value", "")
                ),
                "DIP ID approved.",
            )
        else:
            _run(
                request,
                lambda: dip_ids.reject_dip_id(
                    dip_id=dip, actor=actor, reason=request.POST.get("reason", "")
                ),
                "Request rejected.",
            )
    return redirect("onboarding:board")


@requires(Action.VIEW_PLATFORM)
def dcp_ids(request: HttpRequest) -> HttpResponse:
    qs = registry_selectors.dcp_ids_with_assignment().order_by("environment", "value")
    env, status, assigned = (
        request.GET.get("environment", ""),
        request.GET.get("status", ""),
        request.GET.get("assigned", ""),
    )
    if env:
        qs = qs.filter(environment=env)
    if status:
        qs = qs.filter(status=status)
    if assigned in ("yes", "no"):
        active = qs.filter(assignments__active=True)
        qs = active.distinct() if assigned == "yes" else qs.exclude(pk__in=active.values("pk"))
    statuses = {s.environment: s for s in DcpStatus.objects.all()}
    return render(
        request,
        "participants/dcp_ids.html",
        {
            "page": Paginator(qs, 50).get_page(request.GET.get("page")),
            "statuses": [(e, statuses.get(e)) for e in Environment.values],
            "form": forms.DcpIdCreateForm(),
            "environments": Environment.choices,
            "dcp_statuses": DcpId.Status.choices,
            "env_filter": env,
            "status_filter": status,
            "assigned_filter": assigned,
        },
    )


@require_POST
@requires(Action.VIEW_PLATFORM)  # the registry services check manage / approve
def dcp_action(request: HttpRequest, op: str) -> HttpResponse:
    actor, post = acting_user(request), request.POST
    env = post.get("environment", "")
    if op == "request_status":
        _run(
            request,
            lambda: registry.request_dcp_status(environment=env, actor=actor),
            f"DCP status requested in {env}.",
        )
    elif op in ("approve_status", "reject_status"):
        _run(
            request,
            lambda: registry.decide_dcp_status(
                environment=env,
                approve=op == "approve_status",
                reason=post.get("reason", ""),
                actor=actor,
            ),
            "Decision recorded.",
        )
    elif op == "create":
        form = forms.DcpIdCreateForm(post)
        if form.is_valid():
            _run(
                request,
                lambda: registry.create_dcp_ids(actor=actor, **form.cleaned_data),
                "DCP ID(s) created.",
            )
        else:
            _form_error(request, form)
    elif op == "retire":
        dcp = get_object_or_404(DcpId, pk=post.get("pk") or 0)
        _run(
            request,
            lambda: registry.retire_dcp_id(dcp_id=dcp, actor=actor),
            f"DCP ID {dcp.value} retired.",
        )
    return redirect("onboarding:dcp_ids")


@requires(Action.VIEW_PLATFORM)
def transfers(request: HttpRequest) -> HttpResponse:
    qs = Transfer.objects.select_related("source", "target")
    if request.GET.get("status"):
        qs = qs.filter(status=request.GET["status"])
    return render(
        request,
        "participants/transfers.html",
        {
            "page": Paginator(qs, 25).get_page(request.GET.get("page")),
            "form": forms.TransferForm(),
            "statuses": Transfer.Status.choices,
            "status_filter": request.GET.get("status", ""),
        },
    )


@require_POST
@requires(Action.MANAGE_TENANTS)
def transfer_action(request: HttpRequest, op: str) -> HttpResponse:
    actor = acting_user(request)
    if op == "schedule":
        form = forms.TransferForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            source = Tenant.objects.filter(slug=data["source"]).first()
            target = Tenant.objects.filter(slug=data["target"]).first()
            if source is None or target is None:
                messages.error(request, "Unknown source or target tenant.")
            else:
                _run(
                    request,
                    lambda: transfer.schedule_transfer(
                        source=source,
                        target=target,
                        dip_ids=data["dip_ids"].split(","),
                        cutover_at=data["cutover_at"],
                        kind=data["kind"],
                        reason=data["reason"],
                        actor=actor,
                    ),
                    "Transfer scheduled.",
                )
        else:
            _form_error(request, form)
    elif op == "execute":
        item = get_object_or_404(Transfer, pk=request.POST.get("pk") or 0)
        _run(
            request,
            lambda: transfer.execute_transfer(transfer=item, actor=actor),
            "Transfer completed.",
        )
    return redirect("onboarding:transfers")


@requires(Action.VIEW_PLATFORM)
def offboard(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug, kind=Tenant.Kind.CLIENT)
    if request.method == "POST":
        form = forms.OffboardForm(request.POST)
        if form.is_valid():
            _run(
                request,
                lambda: offboarding.offboard_tenant(
                    tenant=tenant, actor=acting_user(request), reason=form.cleaned_data["reason"]
                ),
                f"{tenant.name} is offboarding.",
            )
        else:
            _form_error(request, form)
        return redirect("onboarding:offboard", slug=slug)
    with tenant_context(tenant):
        records = list(offboarding.OffboardingRecord.objects.all())
    return render(
        request,
        "participants/offboard.html",
        {"tenant": tenant, "form": forms.OffboardForm(), "records": records},
    )


@requires(Action.VIEW_PLATFORM)
def export(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug, kind=Tenant.Kind.CLIENT)
    data = offboarding.export_configuration(tenant=tenant, actor=acting_user(request))
    response = HttpResponse(
        json.dumps(data, indent=2, default=str), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}-configuration.json"'
    return response
