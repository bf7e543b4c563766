"""Console pages (tenant host, /console/): search, export, saved searches, bulk actions, the
exception workbench, four-eyes edit-and-resend and the dashboard. Thin: services decide."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.contrib import messages as flash
from django.db.models import Count, Min
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from console import dashboard, search, services
from console import saved as saved_searches
from console.models import BulkAction, ResendRequest, SavedSearch
from messaging.models import ExceptionCategory, Message, MessageException
from messaging.services import raw_bytes
from messaging.states import Direction, State
from tenants.permissions import Action, PermissionDenied, acting_user
from tenants.views import requires

EXPORT_FIELDS = (
    "id",
    "public_id",
    "created",
    "direction",
    "state",
    "interface_id",
    "event_code",
    "dip_id",
    "counterparty_dip_id",
    "mpan_core",
    "transaction_id",
    "correlation_id",
    "sender_unique_reference",
    "state_changed_at",
)


def _params(request: HttpRequest) -> Any:
    # A POST (bulk dry run / confirm) carries the search in its query string and the form
    # fields in its body: both count, the body wins. Reading only the body dropped every
    # filter, and the bulk action then matched the whole tenant.
    data: QueryDict = request.GET.copy()
    if request.method == "POST":
        for key in request.POST:
            data.setlist(key, request.POST.getlist(key))
    upload = request.FILES.get("mpan_file")
    if upload is None:
        return data
    merged = data.copy()
    text = upload.read(10_000_000).decode("utf-8", "replace")
    merged["mpans"] = "\n".join(filter(None, [data.get("mpans", ""), text]))
    return merged


def _choices() -> dict[str, Any]:
    return {
        "directions": Direction.choices,
        "states": State.choices,
        "categories": ExceptionCategory.choices,
        "groups": [("success", "Success"), ("failure", "Failure"), ("pending", "Pending")],
    }


@requires(Action.VIEW_MESSAGES)
def search_page(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    ctx: dict[str, Any] = {"params": params, **_choices()}
    ctx["saved"] = saved_searches.visible_to(acting_user(request))
    status = 200
    if any(v for k, v in params.items() if k not in ("after", "csrfmiddlewaretoken")):
        try:
            query, mpans = search.build_query(params)
        except search.SearchError as exc:
            ctx["errors"], status = exc.errors, 400
        else:
            after = params.get("after")
            result = search.page(query, after=int(after) if str(after).isdigit() else None)
            ctx.update(
                query=query,
                mpan_errors=mpans.errors[:500],
                mpan_error_count=len(mpans.errors),
                mpan_count=len(mpans.mpans),
                page=result,
                count=search.count(query),
                qs=query.querystring(),
                bulk_kinds=services.kinds_for(query.direction),
            )
    return render(request, "console/search.html", ctx, status=status)


def _stream(query: search.SearchQuery, fmt: str) -> Iterator[str]:
    rows = search.matching(query).order_by("-id").values_list(*EXPORT_FIELDS)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(EXPORT_FIELDS)
        for row in rows.iterator(chunk_size=2000):
            writer.writerow(row)
            if buf.tell() > 65536:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()
    else:
        for row in rows.iterator(chunk_size=2000):
            yield json.dumps(dict(zip(EXPORT_FIELDS, row, strict=True)), default=str) + "\n"


def export_response(query: search.SearchQuery, fmt: str) -> Any:
    fmt = "csv" if fmt == "csv" else "jsonl"
    content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    response = StreamingHttpResponse(_stream(query, fmt), content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="messages-{stamp}.{fmt}"'
    return response


@requires(Action.VIEW_MESSAGES)
def export(request: HttpRequest) -> Any:
    try:
        query, _ = search.build_query(_params(request))
    except search.SearchError as exc:
        return HttpResponseBadRequest(str(exc))
    return export_response(query, request.GET.get("format", "csv"))


def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return render(request, "errors/forbidden.html", {"action": exc.action}, status=403)


@requires(Action.VIEW_MESSAGES)
@require_POST
def saved_create(request: HttpRequest) -> HttpResponse:
    try:
        query, _ = search.build_query(QueryDict(request.POST.get("qs", "")))
        saved = saved_searches.save_search(
            name=request.POST.get("name", ""),
            query=query,
            user=acting_user(request),
            tenant=request.tenant,  # type: ignore[attr-defined]
            shared=bool(request.POST.get("shared")),
        )
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    except (search.SearchError, saved_searches.SavedSearchRefused) as exc:
        flash.error(request, str(exc))
        return redirect(reverse("console:search"))
    flash.success(request, f"Saved “{saved.name}”.")
    return redirect(reverse("console:search") + "?" + query.querystring())


@requires(Action.VIEW_MESSAGES)
def saved_open(request: HttpRequest, pk: int) -> HttpResponse:
    try:  # another person's private search: as if it did not exist
        saved = saved_searches.get_visible(pk=pk, user=acting_user(request))
    except SavedSearch.DoesNotExist as exc:
        raise Http404 from exc
    return redirect(
        reverse("console:search") + "?" + search.SearchQuery.from_params(saved.params).querystring()
    )


@requires(Action.VIEW_MESSAGES)
@require_POST
def saved_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = acting_user(request)
    try:
        saved = saved_searches.get_visible(pk=pk, user=user)
        saved_searches.delete_search(
            saved=saved,
            user=user,
            tenant=request.tenant,  # type: ignore[attr-defined]
        )
    except SavedSearch.DoesNotExist as exc:
        raise Http404 from exc
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    flash.success(request, f"Deleted “{saved.name}”.")
    return redirect(reverse("console:search"))


# --- bulk actions ---------------------------------------------------------------------------


@requires(Action.OPERATE_MESSAGES)
@require_POST
def bulk_new(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", BulkAction.Kind.REQUEUE_OUTBOUND)
    try:
        query, _ = search.build_query(_params(request))
        if request.POST.get("confirm"):
            action = services.start_bulk(kind=kind, query=query, user=acting_user(request))
            return redirect("console:bulk_detail", pk=action.pk)
        preview = services.dry_run(kind=kind, query=query)
    except (search.SearchError, services.ConsoleRefused) as exc:
        return render(request, "console/bulk_dry_run.html", {"error": str(exc)}, status=400)
    return render(
        request,
        "console/bulk_dry_run.html",
        {"preview": preview, "query": query, "kind": kind, "mpans": "\n".join(query.mpans)},
    )


@requires(Action.VIEW_MESSAGES)
def bulk_list(request: HttpRequest) -> HttpResponse:
    return render(request, "console/bulk_list.html", {"actions": BulkAction.objects.all()[:100]})


@requires(Action.VIEW_MESSAGES)
def bulk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    action = get_object_or_404(BulkAction, pk=pk)
    template = "console/_bulk_progress.html" if request.htmx else "console/bulk_detail.html"  # type: ignore[attr-defined]
    return render(request, template, {"action": action})


@requires(Action.OPERATE_MESSAGES)
@require_POST
def bulk_control(request: HttpRequest, pk: int, command: str) -> HttpResponse:
    action = get_object_or_404(BulkAction, pk=pk)
    try:
        services.control_bulk(action=action, command=command, user=acting_user(request))
    except services.ConsoleRefused as exc:
        flash.error(request, str(exc))
    return redirect("console:bulk_detail", pk=pk)


# --- exception workbench --------------------------------------------------------------------


@requires(Action.VIEW_MESSAGES)
def exceptions(request: HttpRequest) -> HttpResponse:
    open_ = MessageException.objects.filter(status=MessageException.Status.OPEN)
    groups = (
        open_.values("category", "code")
        .annotate(n=Count("id"), oldest=Min("opened_at"))
        .order_by("oldest")
    )
    category, code = request.GET.get("category", ""), request.GET.get("code")
    items = open_.select_related("message").order_by("opened_at")
    if category:
        items = items.filter(category=category)
    if code is not None:
        items = items.filter(code=code)
    now = timezone.now()
    return render(
        request,
        "console/exceptions.html",
        {
            "groups": [{**g, "age": now - g["oldest"]} for g in groups],
            "items": items[:200],
            "category": category,
            "code": code,
            "labels": dict(ExceptionCategory.choices),
        },
    )


@requires(Action.VIEW_MESSAGES)
def exception_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exc = get_object_or_404(MessageException.objects.select_related("message"), pk=pk)
    return render(
        request,
        "console/exception_detail.html",
        {
            "exc": exc,
            "comments": exc.console_comments.all(),
            "resends": ResendRequest.objects.filter(original=exc.message),
        },
    )


@requires(Action.OPERATE_MESSAGES)
@require_POST
def exception_act(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    exc = get_object_or_404(MessageException.objects.select_related("message"), pk=pk)
    user = acting_user(request)
    try:
        if verb == "assign":
            services.assign_exception(
                exception=exc, assignee=request.POST.get("assignee") or user.email, user=user
            )
        elif verb == "comment":
            services.comment_exception(exception=exc, text=request.POST.get("text", ""), user=user)
        elif verb == "resolve":
            services.resolve_exception(
                exception=exc, resolution=request.POST.get("resolution") or "resolved", user=user
            )
        elif verb == "retry":
            services.retry_message(message=exc.message, user=user)
        elif verb == "dip_replay":
            from console.replay import ask_dip_replay

            ask_dip_replay(message=exc.message, user=user, reason=request.POST.get("reason", ""))
        else:
            return HttpResponseBadRequest("unknown action")
    except services.ConsoleRefused as err:
        flash.error(request, str(err))
    else:
        flash.success(request, "Done.")
    return redirect("console:exception_detail", pk=pk)


# --- four-eyes edit-and-resend --------------------------------------------------------------


@requires(Action.OPERATE_MESSAGES)
def resend_new(request: HttpRequest, public_id: str) -> HttpResponse:
    message = get_object_or_404(Message.objects.select_related("raw"), public_id=public_id)
    error = ""
    if request.method == "POST":
        try:
            item = json.loads(request.POST.get("item", ""))
            if not isinstance(item, dict):
                raise ValueError("the message must be one JSON object")
            req = services.request_resend(
                original=message,
                edited_item=item,
                reason=request.POST.get("reason", ""),
                user=acting_user(request),
            )
            return redirect("console:resend_detail", pk=req.pk)
        except (ValueError, services.ConsoleRefused) as exc:
            error = str(exc)
        text = request.POST.get("item", "")
    else:
        text = raw_bytes(message.raw).decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2)
    return render(
        request,
        "console/resend_new.html",
        {"message": message, "text": text, "error": error},
        status=400 if error else 200,
    )


@requires(Action.VIEW_MESSAGES)
def resend_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(ResendRequest.objects.select_related("original"), pk=pk)
    return render(
        request,
        "console/resend_detail.html",
        {"req": req, "item": json.dumps(req.edited_item, indent=2)},
    )


@requires(Action.OPERATE_MESSAGES)
@require_POST
def resend_decide(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(ResendRequest, pk=pk)
    try:
        services.decide_resend(
            request=req,
            user=acting_user(request),
            approve=request.POST.get("decision") == "approve",
            note=request.POST.get("note", ""),
        )
    except services.ConsoleRefused as exc:
        flash.error(request, str(exc))
        return render(
            request,
            "console/resend_detail.html",
            {"req": req, "item": json.dumps(req.edited_item, indent=2), "refused": str(exc)},
            status=403,
        )
    return redirect("console:resend_detail", pk=pk)


# --- dashboard ------------------------------------------------------------------------------


def _hours(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("hours", 24)), 24 * 31))
    except ValueError:
        return 24


@requires(Action.VIEW_MESSAGES)
def dashboard_page(request: HttpRequest) -> HttpResponse:
    data = dashboard.summary(hours=_hours(request))
    since = data["since"]
    for row in data["rates"]:
        base = {"interface_ids": row["interface_id"], "direction": row["direction"]}
        row["failure_link"] = search.SearchQuery(
            interface_ids=(row["interface_id"],),
            direction=row["direction"],
            status_group="failure",
            created_from=since,
        ).querystring()
        row["link"] = search.build_query({**base, "created_from": since.isoformat()})[
            0
        ].querystring()
    return render(
        request,
        "console/dashboard.html",
        {
            "data": data,
            "chart": json.dumps(data["volumes"]),
            "hours": _hours(request),
            "window": timedelta(hours=_hours(request)),
        },
    )


@requires(Action.VIEW_MESSAGES)
def dashboard_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        dashboard.summary(hours=_hours(request)), json_dumps_params={"default": str}
    )
