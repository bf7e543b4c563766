"""Reconciliation and evidence-pack pages. Read-only for auditors; CSV on every table."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import record
from evidence import reconciliation as recon
from evidence import services
from evidence.forms import PackForm, PairForm, ScopeForm
from evidence.models import EvidencePack, InterfacePair
from evidence.selectors import Scope
from messaging.models import Message
from tenants import permissions
from tenants.permissions import Action, acting_user
from tenants.views import requires


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> HttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return cast(HttpResponse, response)  # streamed; the page decorators type HttpResponse


def _scope(request: HttpRequest) -> tuple[ScopeForm, Scope]:
    form = ScopeForm(request.GET or None)
    return form, form.scope()


def _ctx(request: HttpRequest, tab: str, **extra: Any) -> dict[str, Any]:
    form, scope = _scope(request)
    query = request.GET.urlencode()
    return {"form": form, "scope": scope, "tab": tab, "query": query, **extra}


@requires(Action.VIEW_EVIDENCE)
def operational(request: HttpRequest) -> HttpResponse:
    _, scope = _scope(request)
    if request.GET.get("export") == "csv":
        return csv_response(
            f"operational-{scope.period_start}-{scope.period_end}.csv",
            [
                "day",
                "interface_id",
                "sent",
                "acknowledged",
                "settled",
                "not_acknowledged",
                "not_settled",
            ],
            (
                [
                    r.day,
                    r.interface_id,
                    r.sent,
                    r.acknowledged,
                    r.settled,
                    r.not_acknowledged,
                    r.not_settled,
                ]
                for r in recon.operational(scope)
            ),
        )
    if request.GET.get("export") == "differences":
        return csv_response(
            "operational-differences.csv",
            [
                "created",
                "public_id",
                "interface_id",
                "dip_id",
                "mpan_core",
                "state",
                "sender_unique_reference",
            ],
            (
                [
                    m.created.isoformat(),
                    m.public_id,
                    m.interface_id,
                    m.dip_id,
                    m.mpan_core,
                    m.state,
                    m.sender_unique_reference,
                ]
                for m in recon.operational_differences(scope).iterator(chunk_size=2000)
            ),
        )
    rows = recon.operational(scope)
    differences = list(recon.operational_differences(scope)[: recon.DIFFERENCE_LIMIT])
    return render(
        request,
        "evidence/operational.html",
        _ctx(request, "operational", rows=rows, differences=differences),
    )


@requires(Action.VIEW_EVIDENCE)
def business(request: HttpRequest) -> HttpResponse:
    _, scope = _scope(request)
    if request.GET.get("export") == "csv":
        return csv_response(
            "business-overdue.csv",
            [
                "request_interface_id",
                "response_interface_id",
                "limit_minutes",
                "created",
                "public_id",
                "mpan_core",
                "dip_id",
            ],
            (
                [
                    p.request_interface_id,
                    p.response_interface_id,
                    p.limit_minutes,
                    m.created.isoformat(),
                    m.public_id,
                    m.mpan_core,
                    m.dip_id,
                ]
                for p, m in recon.business_overdue(scope)
            ),
        )
    can_manage = permissions.allowed(
        request.user, Action.MANAGE_CONFIGURATION, getattr(request, "tenant", None)
    )
    return render(
        request,
        "evidence/business.html",
        _ctx(
            request,
            "business",
            results=recon.business(scope),
            pair_form=PairForm() if can_manage else None,
        ),
    )


@requires(Action.MANAGE_CONFIGURATION)
@require_POST
def pair_add(request: HttpRequest) -> HttpResponse:
    form = PairForm(request.POST)
    if form.is_valid():
        services.add_pair(actor=acting_user(request), **form.cleaned_data)
        messages.success(request, "Interface pair added.")
    else:
        messages.error(request, f"Not added: {form.errors.as_text()}")
    return HttpResponseRedirect(reverse("evidence:business"))


@requires(Action.MANAGE_CONFIGURATION)
@require_POST
def pair_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.delete_pair(pair=get_object_or_404(InterfacePair, pk=pk), actor=acting_user(request))
    return HttpResponseRedirect(reverse("evidence:business"))


@requires(Action.VIEW_EVIDENCE)
def assurance(request: HttpRequest) -> HttpResponse:
    _, scope = _scope(request)
    rows = recon.assurance(scope)
    if request.GET.get("export") == "csv":
        return csv_response(
            "assurance.csv",
            [
                "day",
                "direction",
                "environment",
                "dip_id",
                "interface_id",
                "messages",
                "with_transaction_id",
                "raw_hash_total",
                "transaction_hash_total",
            ],
            (
                [
                    r.day,
                    r.direction,
                    r.environment,
                    r.dip_id,
                    r.interface_id,
                    r.messages,
                    r.with_transaction_id,
                    r.raw_hash_total,
                    r.transaction_hash_total,
                ]
                for r in rows
            ),
        )
    match = None
    if request.GET.get("dip_transaction_ids"):
        ids = {t.strip() for t in request.GET["dip_transaction_ids"].split() if t.strip()}
        match = recon.match_transaction_ids(scope, ids)
    return render(
        request, "evidence/assurance.html", _ctx(request, "assurance", rows=rows, match=match)
    )


@requires(Action.VIEW_EVIDENCE)
def lineage(request: HttpRequest, public_id: str) -> HttpResponse:
    message = get_object_or_404(Message.objects.select_related("raw"), public_id=public_id)
    result = recon.lineage(message)
    if request.GET.get("export") == "csv":
        return csv_response(
            f"lineage-{public_id}.csv",
            ["at", "stage", "summary", "actor"],
            ([s.at.isoformat() if s.at else "", s.stage, s.summary, s.actor] for s in result.steps),
        )
    return render(request, "evidence/lineage.html", {"lineage": result, "tab": "lineage"})


@requires(Action.VIEW_EVIDENCE)
def packs(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    form = PackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        scope = form.scope()
        try:
            pack = services.request_pack(
                tenant=request.tenant,  # type: ignore[attr-defined]
                actor=user,
                kind=form.cleaned_data["kind"],
                period_start=scope.period_start,
                period_end=scope.period_end,
                interfaces=list(scope.interfaces),
                dip_ids=list(scope.dip_ids),
                mpans=list(scope.mpans),
            )
        except services.EvidenceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Evidence pack requested; it builds in the background.")
            return HttpResponseRedirect(reverse("evidence:pack", args=[pack.public_id]))
    return render(
        request,
        "evidence/packs.html",
        {"form": form, "packs": EvidencePack.objects.all()[:100], "tab": "packs"},
    )


@requires(Action.VIEW_EVIDENCE)
def pack_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    pack = get_object_or_404(EvidencePack, public_id=public_id)
    link = None
    if request.method == "POST" and pack.status == EvidencePack.Status.READY:
        token = services.download_token(pack=pack, user=acting_user(request))
        link = request.build_absolute_uri(reverse("evidence:download", args=[token]))
    template = (
        "evidence/_pack_status.html" if request.headers.get("HX-Request") else "evidence/pack.html"
    )
    return render(
        request,
        template,
        {"pack": pack, "link": link, "max_age": services.link_max_age(), "tab": "packs"},
    )


@requires(Action.VIEW_EVIDENCE)
def download(request: HttpRequest, token: str) -> HttpResponse:
    user = acting_user(request)
    try:
        grant = services.resolve_token(token, user=user)
    except services.LinkExpired:
        return render(request, "evidence/link_expired.html", {"reason": "expired"}, status=410)
    except services.LinkInvalid:
        return render(request, "evidence/link_expired.html", {"reason": "invalid"}, status=404)
    try:
        fh = services.open_pack(pack=grant.pack, actor=user, request=request)
    except services.StorageUnavailable:
        return render(request, "evidence/link_expired.html", {"reason": "storage"}, status=503)
    response = FileResponse(
        fh,
        as_attachment=True,
        filename=f"evidence-{grant.pack.public_id}.zip",
        content_type="application/zip",
    )
    return cast(HttpResponse, response)


@login_required
@require_http_methods(["GET", "POST"])
def auditor_access(request: HttpRequest, slug: str) -> HttpResponse:
    """Any host: send a user to a tenant's evidence pages if that tenant granted them access
    (auditor role, other evidence roles, DCP staff); otherwise 404, and the refusal is
    audited in the platform chain.

    The request is a POST (the page's form, with its CSRF token): a GET only shows that form
    and writes nothing, so a link or an image on another site cannot fill the audit log."""
    from django_tenants.utils import schema_context

    from tenants.models import Tenant

    user = acting_user(request)
    if request.method != "POST":
        return render(request, "evidence/access.html", {"slug": slug})
    tenant = Tenant.objects.filter(slug=slug, kind=Tenant.Kind.CLIENT).first()
    if tenant is not None and permissions.allowed(user, Action.VIEW_EVIDENCE, tenant):
        return HttpResponseRedirect(tenant.url("/evidence/"))
    with schema_context("public"):
        record(
            action="evidence.access_denied",
            actor=user,
            request=request,
            target_type="tenants.Tenant",
            target_id=str(tenant.pk) if tenant else "",
            target_repr=slug[:100],
            summary=f"evidence access to {slug!r} refused: not granted",
        )
    raise Http404("No such tenant, or it has not granted you access.")
