"""Tenant-host onboarding pages (/setup/). Every write calls a participants service; errors
come back as messages naming what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dcp.redirects import safe_next
from dcpregistry.environments import Environment
from participants import forms, selectors
from participants.api.views import channel_csv
from participants.models import (
    ApiKey,
    Channel,
    ChecklistItem,
    DipId,
    MpidRole,
    Nomination,
    PromotionChangeSet,
)
from participants.roles import DIP_ROLES
from participants.services import (
    api_keys,
    channels,
    checklist,
    dip_ids,
    extended,
    nominations,
    promotion,
)
from participants.services.channels import webhook_url
from tenants import permissions
from tenants.permissions import Action, PermissionDenied, acting_user
from tenants.views import requires

VIEW = Action.VIEW_CONFIGURATION
MANAGE = Action.MANAGE_CONFIGURATION


def _run(request: HttpRequest, fn: Callable[[], Any], success: str) -> Any:
    try:
        result = fn()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)
        return result
    return None


def _form_error(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label or field if field in form.fields else ""
        messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))


@requires(VIEW)
def setup_home(request: HttpRequest) -> HttpResponse:
    can_manage = permissions.allowed(request.user, MANAGE, request.tenant)  # type: ignore[attr-defined]
    qs = selectors.dip_ids().order_by("environment", "mpid_role__mpid")
    env, status = request.GET.get("environment", ""), request.GET.get("status", "")
    if env:
        qs = qs.filter(environment=env)
    if status:
        qs = qs.filter(status=status)
    dip_form = forms.DipIdForm()
    dip_form.fields["mpid_role"].widget.choices = [(c.pk, str(c)) for c in MpidRole.objects.all()]
    profile = selectors.profile()
    return render(
        request,
        "participants/setup_home.html",
        {
            "profile": profile,
            "profile_form": forms.ProfileForm(initial=vars(profile) if profile else None),
            "checklists": [
                (e, selectors.checklist(e), selectors.checklist_summary(e))
                for e in Environment.values
            ],
            "statuses": ChecklistItem.Status.choices,
            "mpid_roles": MpidRole.objects.all(),
            "mpid_form": forms.MpidRoleForm(),
            "dip_form": dip_form,
            "page": Paginator(qs, 50).get_page(request.GET.get("page")),
            "env_filter": env,
            "status_filter": status,
            "environments": Environment.choices,
            "dip_statuses": DipId.Status.choices,
            "can_manage": can_manage,
            "roles": DIP_ROLES,
        },
    )


def _submit(
    request: HttpRequest, form: Any, action: Callable[[dict[str, Any]], Any], success: str
) -> Any:
    """Validate a posted form, then run the service with its cleaned data (errors → messages)."""
    if not form.is_valid():
        _form_error(request, form)
        return None
    return _run(request, lambda: action(form.cleaned_data), success)


@require_POST
@requires(MANAGE)
def profile_update(request: HttpRequest) -> HttpResponse:
    _submit(
        request,
        forms.ProfileForm(request.POST),
        lambda data: checklist.update_profile(actor=acting_user(request), **data),
        "Company details saved.",
    )
    return redirect("participants:home")


@require_POST
@requires(MANAGE)
def checklist_update(request: HttpRequest, environment: str, step: int) -> HttpResponse:
    _submit(
        request,
        forms.ChecklistForm(request.POST),
        lambda data: checklist.update_checklist_item(
            environment=environment, step=step, actor=acting_user(request), **data
        ),
        f"{environment} step {step} updated.",
    )
    return redirect("participants:home")


@require_POST
@requires(MANAGE)
def mpid_role_add(request: HttpRequest) -> HttpResponse:
    _submit(
        request,
        forms.MpidRoleForm(request.POST),
        lambda data: dip_ids.add_mpid_role(actor=acting_user(request), **data),
        "MPID / role added.",
    )
    return redirect("participants:home")


@require_POST
@requires(MANAGE)
def dip_id_create(request: HttpRequest) -> HttpResponse:
    combo = MpidRole.objects.filter(pk=request.POST.get("mpid_role") or 0).first()
    if combo is None:
        messages.error(request, "Choose an MPID / role first.")
        return redirect("participants:home")
    dip = _run(
        request,
        lambda: dip_ids.create_dip_id(
            mpid_role=combo,
            environment=request.POST.get("environment", ""),
            value=request.POST.get("value", ""),
            actor=acting_user(request),
        ),
        "DIP ID created (or requested).",
    )
    return redirect("participants:dip_id", pk=dip.pk) if dip else redirect("participants:home")


@requires(VIEW)
def dip_id_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dip = get_object_or_404(selectors.dip_ids(), pk=pk)
    return render(
        request,
        "participants/dip_id_detail.html",
        {
            "dip": dip,
            "nominations": dip.nominations.all(),
            "active_nomination": selectors.active_nomination(dip),
            "keys": dip.api_keys.order_by("state", "slot", "-created"),
            "channels": [(c, webhook_url(c)) for c in dip.channels.all()],
            "selections": dip.selections.all(),
            "pairings": dip.pairings.all(),
            "certifications": dip.certifications.all(),
            "extended": dip.role_code in extended.EXTENDED_ROLES,
            "can_manage": permissions.allowed(request.user, MANAGE, request.tenant),  # type: ignore[attr-defined]
            "can_decide": permissions.allowed(request.user, Action.APPROVE_REQUESTS, None),
            "nominate_form": forms.NominateForm(),
            "channel_form": forms.ChannelForm(),
            "selection_form": forms.SelectionForm(),
            "pairing_form": forms.PairingForm(),
            "certification_form": forms.CertificationForm(),
        },
    )


@require_POST
@requires(VIEW)  # the services decide: manage for the client's own actions, approve for staff
def dip_id_action(request: HttpRequest, pk: int, op: str) -> HttpResponse:
    dip = get_object_or_404(selectors.dip_ids(), pk=pk)
    actor, post = acting_user(request), request.POST
    ops: dict[str, tuple[Callable[[], Any], str]] = {
        "approve": (
            lambda: dip_ids.approve_dip_id(dip_id=dip, actor=actor, value=post.get("value", "")),
            "DIP ID approved.",
        ),
        "reject": (
            lambda: dip_ids.reject_dip_id(dip_id=dip, actor=actor, reason=post.get("reason", "")),
            "Request rejected.",
        ),
        "nominate": (
            lambda: nominations.nominate_dcp(
                dip_id=dip,
                dcp_id=post.get("dcp_id", ""),
                whitelist_domains=bool(post.get("whitelist_domains")),
                actor=actor,
            ),
            "DCP nominated.",
        ),
        "generate_keys": (
            lambda: api_keys.generate_keys(dip_id=dip, actor=actor),
            "Keys generated: copy them now.",
        ),
        "regenerate_secondary": (
            lambda: [api_keys.regenerate_secondary(dip_id=dip, actor=actor)],
            "New secondary key: copy it now.",
        ),
        "swap_keys": (
            lambda: api_keys.swap_keys(dip_id=dip, actor=actor),
            "Keys swapped; the old primary is retiring.",
        ),
        "channel": (
            lambda: channels.configure_channel(
                dip_id=dip,
                interface_id=post.get("interface_id", ""),
                obfuscated=bool(post.get("obfuscated")),
                actor=actor,
            ),
            "Channel configured.",
        ),
        "select": (
            lambda: extended.select_interface(
                dip_id=dip,
                interface_id=post.get("interface_id", ""),
                enabled=bool(post.get("enabled")),
                actor=actor,
            ),
            "Interface selection saved.",
        ),
        "pair": (
            lambda: extended.pair(
                dip_id=dip,
                partner_name=post.get("partner_name", ""),
                partner_mpid=post.get("partner_mpid", ""),
                partner_dip_id=post.get("partner_dip_id", ""),
                actor=actor,
            ),
            "Pairing added.",
        ),
        "certify": (
            lambda: extended.record_certification(
                dip_id=dip,
                kind=post.get("kind", ""),
                interface_id=post.get("interface_id", ""),
                status=post.get("status", ""),
                evidence=post.get("evidence", ""),
                reused_from=post.get("reused_from", ""),
                actor=actor,
            ),
            "Certification item saved.",
        ),
    }
    if op not in ops:
        messages.error(request, "Unknown action.")
        return redirect("participants:dip_id", pk=pk)
    fn, success = ops[op]
    result = _run(request, fn, success)
    if op in ("generate_keys", "regenerate_secondary") and result:
        # Shown once, in this response only: never stored in clear, not even in the session.
        return render(request, "participants/keys_issued.html", {"dip": dip, "issued": result})
    return redirect("participants:dip_id", pk=pk)


@require_POST
@requires(MANAGE)
def nomination_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    nomination = get_object_or_404(Nomination, pk=pk)
    _run(
        request,
        lambda: nominations.revoke_nomination(
            nomination=nomination, actor=acting_user(request), reason=request.POST.get("reason", "")
        ),
        "Nomination revoked.",
    )
    return redirect("participants:dip_id", pk=nomination.dip_id_id)


@require_POST
@requires(MANAGE)
def key_retire(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk)
    _run(request, lambda: api_keys.retire_key(key=key, actor=acting_user(request)), "Key retired.")
    return redirect("participants:dip_id", pk=key.dip_id_id)


@require_POST
@requires(MANAGE)
def channel_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    _run(
        request,
        lambda: channels.update_channel(
            channel=channel, enabled=not channel.enabled, actor=acting_user(request)
        ),
        "Channel updated.",
    )
    return redirect(safe_next(request, request.POST.get("next"), reverse("participants:channels")))


@requires(VIEW)
def channel_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.channels().order_by("environment", "dip_id__value", "interface_id")
    env, iface, enabled = (
        request.GET.get("environment", ""),
        request.GET.get("interface_id", ""),
        request.GET.get("enabled", ""),
    )
    if env:
        qs = qs.filter(environment=env)
    if iface:
        qs = qs.filter(interface_id=iface.upper())
    if enabled in ("yes", "no"):
        qs = qs.filter(enabled=enabled == "yes")
    if request.GET.get("format") == "csv":
        return channel_csv(list(qs))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "participants/channels.html",
        {
            "page": page,
            "rows": [(c, webhook_url(c)) for c in page],
            "environments": Environment.choices,
            "env_filter": env,
            "iface_filter": iface,
            "enabled_filter": enabled,
            "can_manage": permissions.allowed(request.user, MANAGE, request.tenant),  # type: ignore[attr-defined]
        },
    )


@requires(VIEW)
def promotion_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "participants/promotion.html",
        {
            "gaps": selectors.certification_gaps("UIT"),
            "diff": promotion.build_diff(),
            "change_sets": PromotionChangeSet.objects.all()[:20],
            "can_manage": permissions.allowed(request.user, MANAGE, request.tenant),  # type: ignore[attr-defined]
            "can_decide": permissions.allowed(request.user, Action.APPROVE_REQUESTS, None),
        },
    )


@require_POST
@requires(VIEW)
def promotion_action(request: HttpRequest, op: str) -> HttpResponse:
    actor = acting_user(request)
    if op == "propose":
        _run(
            request,
            lambda: promotion.propose_promotion(actor=actor),
            "Promotion proposed for review.",
        )
    else:
        change_set = get_object_or_404(PromotionChangeSet, pk=request.POST.get("pk") or 0)
        if op == "approve":
            _run(
                request,
                lambda: promotion.approve_promotion(change_set=change_set, actor=actor),
                "Approved. Another DCP staff member applies it.",
            )
        elif op == "apply":
            _run(
                request,
                lambda: promotion.apply_promotion(change_set=change_set, actor=actor),
                "Promoted to PRD.",
            )
        elif op == "reject":
            _run(
                request,
                lambda: promotion.reject_promotion(
                    change_set=change_set, actor=actor, reason=request.POST.get("reason", "")
                ),
                "Promotion rejected.",
            )
    return redirect("participants:promotion")
