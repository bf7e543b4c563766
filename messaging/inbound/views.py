"""Pages: client endpoints (list + create, detail with deliveries and attempts; rotate secret,
pause, resume, replay) and the status reply policy. Writes go through
``messaging.inbound.endpoints`` and ``messaging.inbound.status``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from messaging.inbound import duplicates, endpoints
from messaging.inbound import status as replies
from messaging.inbound.models import ClientEndpoint, EndpointDelivery, ReplyMode
from tenants import permissions
from tenants.permissions import Action, PermissionDenied, acting_user
from tenants.views import requires

VIEW, MANAGE = Action.VIEW_CONFIGURATION, Action.MANAGE_CONFIGURATION


def _run(request: HttpRequest, fn: Callable[[], Any], success: str) -> Any:
    try:
        result = fn()
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return None
    messages.success(request, success)
    return result


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]


@requires(VIEW)
def endpoint_list(request: HttpRequest) -> HttpResponse:
    can_manage = permissions.allowed(request.user, MANAGE, request.tenant)  # type: ignore[attr-defined]
    secret = None
    if request.method == "POST" and can_manage:
        data = request.POST
        result = _run(
            request,
            lambda: endpoints.create_endpoint(
                name=data.get("name", ""),
                url=data.get("url", ""),
                interfaces=_split(data.get("interfaces", "")),
                directions=data.getlist("directions"),
                actor=acting_user(request),
            ),
            "Endpoint created. Copy the signing secret now: it is not shown again.",
        )
        secret = result.secret if result else None
    rows = [
        (e, e.deliveries.filter(state=EndpointDelivery.State.PENDING).count())
        for e in ClientEndpoint.objects.order_by("name")
    ]
    return render(
        request,
        "messaging/inbound/endpoints.html",
        {"rows": rows, "can_manage": can_manage, "secret": secret},
    )


@requires(VIEW)
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(ClientEndpoint, pk=pk)
    can_manage = permissions.allowed(request.user, MANAGE, request.tenant)  # type: ignore[attr-defined]
    deliveries = (
        endpoint.deliveries.select_related("event", "event__message")
        .prefetch_related("tries")
        .order_by("-seq")[:50]
    )
    return render(
        request,
        "messaging/inbound/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "deliveries": deliveries,
            "can_manage": can_manage,
            "pending": endpoint.deliveries.filter(state="pending").count(),
            "secret": request.session.pop(f"endpoint-secret-{pk}", None),
        },
    )


@require_POST
@requires(MANAGE)
def endpoint_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    endpoint = get_object_or_404(ClientEndpoint, pk=pk)
    actor = acting_user(request)
    if verb == "rotate":
        result = _run(
            request,
            lambda: endpoints.rotate_secret(endpoint=endpoint, actor=actor),
            "Secret rotated; the previous one keeps signing during the overlap.",
        )
        if result:
            request.session[f"endpoint-secret-{pk}"] = result.secret
    elif verb == "pause":
        reason = request.POST.get("reason", "")
        _run(
            request,
            lambda: endpoints.pause_endpoint(endpoint=endpoint, actor=actor, reason=reason),
            "Paused.",
        )
    elif verb == "resume":
        _run(request, lambda: endpoints.resume_endpoint(endpoint=endpoint, actor=actor), "Resumed.")
    elif verb == "replay":
        try:
            start = int(request.POST.get("from_seq", "0"))
        except ValueError:
            start = 0
        _run(
            request,
            lambda: endpoints.replay_endpoint(endpoint=endpoint, actor=actor, from_seq=start),
            f"Events from #{start} will be delivered again.",
        )
    else:
        messages.error(request, "Unknown action.")
    return redirect("messaging_inbound:endpoint", pk=pk)


@requires(VIEW)
def status_replies(request: HttpRequest) -> HttpResponse:
    """Which status messages the tenant's inbound messages get (negatives always; RCP0000 by
    policy, tenant default and per-interface overrides)."""
    can_manage = permissions.allowed(request.user, MANAGE, request.tenant)  # type: ignore[attr-defined]
    if request.method == "POST" and can_manage:
        data = request.POST
        _run(
            request,
            lambda: replies.set_reply_policy(
                interface_id=data.get("interface_id", ""),
                mode=data.get("mode", ""),
                actor=acting_user(request),
            ),
            "Status reply policy saved.",
        )
        return redirect("messaging_inbound:status_replies")
    return render(
        request,
        "messaging/inbound/status_replies.html",
        {"policy": replies.policy_overview(), "modes": ReplyMode.choices, "can_manage": can_manage},
    )


@requires(VIEW)
def duplicate_policy(request: HttpRequest) -> HttpResponse:
    """How inbound duplicates are handled (docs/inbound.md "Duplicates"); the one choice, for
    suspected (content) duplicates: deliver flagged (default) or hold."""
    can_manage = permissions.allowed(request.user, MANAGE, request.tenant)  # type: ignore[attr-defined]
    if request.method == "POST" and can_manage:
        choice = request.POST.get("suspected", "")
        if choice not in ("deliver", "hold"):
            messages.error(request, "Choose whether suspected duplicates are delivered or held.")
        else:
            _run(
                request,
                lambda: duplicates.set_duplicate_policy(
                    deliver_content_duplicates=choice == "deliver", actor=acting_user(request)
                ),
                "Duplicate policy saved.",
            )
        return redirect("messaging_inbound:duplicates")
    return render(
        request,
        "messaging/inbound/duplicates.html",
        {"policy": duplicates.policy_overview(), "can_manage": can_manage},
    )
