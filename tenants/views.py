"""Server-rendered pages: the staff console (platform host) and the tenant home and member
management (tenant hosts). Every write goes through tenants.services."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from audit.models import AuditEvent
from tenants import handoff, permissions, services
from tenants.forms import (
    AcceptInvitationForm,
    InviteForm,
    RoleForm,
    TenantCreateForm,
    TenantStatusForm,
)
from tenants.models import Invitation, Membership, Tenant, User
from tenants.permissions import Action, acting_user
from tenants.roles import ClientRole


def _tenant(request: HttpRequest) -> Tenant | None:
    tenant: Tenant | None = getattr(request, "tenant", None)
    return None if tenant is None or tenant.is_platform else tenant


def requires(
    action: Action,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Page decorator: signed in, and allowed ``action`` here (404 on a tenant host for
    non-members is decided earlier by TenantAccessMiddleware; this returns 403)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not permissions.allowed(request.user, action, _tenant(request)):
                return render(request, "errors/forbidden.html", {"action": action}, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


# --- platform host ------------------------------------------------------------------------


@login_required
def platform_home(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if not permissions.allowed(user, Action.VIEW_PLATFORM, None):
        memberships = user.memberships.select_related("tenant").order_by("tenant__name")
        if memberships.count() == 1:
            # Sessions are per host: the switcher hands the sign-in over to the tenant's host.
            slug = memberships[0].tenant.slug
            return HttpResponseRedirect(f"{reverse('switch_tenant')}?to={slug}")
        return render(request, "tenants/choose_tenant.html", {"memberships": memberships})
    qs = (
        Tenant.objects.filter(kind=Tenant.Kind.CLIENT)
        .annotate(member_count=Count("memberships"))
        .order_by("name")
    )
    status = request.GET.get("status", "")
    if status:
        qs = qs.filter(status=status)
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "tenants/platform_home.html",
        {
            "page": page,
            "status": status,
            "q": query,
            "statuses": Tenant.Status.choices,
        },
    )


@requires(Action.MANAGE_TENANTS)
def tenant_create(request: HttpRequest) -> HttpResponse:
    form = TenantCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.create_tenant(actor=acting_user(request), **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Tenant {created.tenant.name} created.")
            return redirect("tenant_detail", slug=created.tenant.slug)
    return render(request, "tenants/tenant_form.html", {"form": form})


@requires(Action.VIEW_PLATFORM)
def tenant_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug, kind=Tenant.Kind.CLIENT)
    return render(
        request,
        "tenants/tenant_detail.html",
        {
            "tenant": tenant,
            "memberships": tenant.memberships.select_related("user").order_by("user__email"),
            "invitations": tenant.invitations.filter(status=Invitation.Status.PENDING),
            "status_form": TenantStatusForm(initial={"status": tenant.status}),
        },
    )


@require_POST
@requires(Action.MANAGE_TENANTS)
def tenant_status(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug, kind=Tenant.Kind.CLIENT)
    form = TenantStatusForm(request.POST)
    if form.is_valid():
        try:
            services.set_tenant_status(
                tenant=tenant, actor=acting_user(request), **form.cleaned_data
            )
            messages.success(request, f"{tenant.name} is now {tenant.get_status_display()}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("tenant_detail", slug=slug)


@requires(Action.VIEW_PLATFORM)
def staff_list(request: HttpRequest) -> HttpResponse:
    staff = User.objects.exclude(staff_role="").order_by("email")
    return render(request, "tenants/staff_list.html", {"staff": staff})


# --- tenant host --------------------------------------------------------------------------


@requires(Action.VIEW_TENANT)
def tenant_home(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    if tenant is None:
        return redirect("home")
    members = Membership.objects.filter(tenant=tenant).select_related("user")
    role = permissions.membership_role(acting_user(request), tenant)
    return render(
        request,
        "tenants/tenant_home.html",
        {
            "tenant": tenant,
            "member_count": members.count(),
            "members": members.order_by("user__email")[:10],
            "role": role,
            "role_label": ClientRole(role).label if role else "",
            "recent_audit": AuditEvent.objects.order_by("-seq")[:8]
            if permissions.allowed(request.user, Action.VIEW_AUDIT, tenant)
            else [],
        },
    )


@requires(Action.VIEW_MEMBERS)
def members(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    qs = Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")
    role = request.GET.get("role", "")
    if role:
        qs = qs.filter(role=role)
    can_manage = permissions.allowed(request.user, Action.MANAGE_MEMBERS, tenant)
    return render(
        request,
        "tenants/members.html",
        {
            "page": Paginator(qs, 50).get_page(request.GET.get("page")),
            "invitations": Invitation.objects.filter(
                tenant=tenant, status=Invitation.Status.PENDING
            )
            if can_manage
            else [],
            "can_manage": can_manage,
            "invite_form": InviteForm(),
            "roles": ClientRole.choices,
            "role_filter": role,
        },
    )


@requires(Action.MANAGE_MEMBERS)
def member_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invite(
                tenant=_tenant(request), actor=acting_user(request), **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("members")
    return render(request, "tenants/member_invite.html", {"form": form})


@require_POST
@requires(Action.MANAGE_MEMBERS)
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=pk, tenant=_tenant(request))
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_role(
                membership=membership, role=form.cleaned_data["role"], actor=acting_user(request)
            )
            messages.success(
                request, f"{membership.user.email} is now {membership.get_role_display()}."
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    if request.htmx:  # type: ignore[attr-defined]
        membership.refresh_from_db()
        return render(
            request,
            "tenants/_member_row.html",
            {"m": membership, "can_manage": True, "roles": ClientRole.choices},
        )
    return redirect("members")


@require_POST
@requires(Action.MANAGE_MEMBERS)
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=pk, tenant=_tenant(request))
    try:
        services.remove_member(membership=membership, actor=acting_user(request))
        messages.success(request, f"{membership.user.email} removed.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("members")


@require_POST
@requires(Action.MANAGE_MEMBERS)
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk, tenant=_tenant(request))
    try:
        services.revoke_invitation(invitation=invitation, actor=acting_user(request))
        messages.success(request, f"Invitation to {invitation.email} withdrawn.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("members")


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    needed = Action.VIEW_AUDIT if tenant else Action.VIEW_PLATFORM
    if not permissions.allowed(request.user, needed, tenant):
        return render(request, "errors/forbidden.html", {"action": needed}, status=403)
    qs = AuditEvent.objects.order_by("-seq")
    action = request.GET.get("action", "").strip()
    if action:
        qs = qs.filter(action__startswith=action)
    return render(
        request,
        "audit/audit_log.html",
        {
            "page": Paginator(qs, 50).get_page(request.GET.get("page")),
            "action": action,
        },
    )


# --- any host -----------------------------------------------------------------------------


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.find_invitation(token)
    except services.InvitationError as exc:
        return render(
            request,
            "tenants/invitation_invalid.html",
            {"message": " ".join(exc.messages), "code": exc.code},
            status=410,
        )
    user = request.user if request.user.is_authenticated else None
    existing = User.objects.filter(email=invitation.email).exists()
    form = AcceptInvitationForm(request.POST or None) if user is None and not existing else None
    error = None
    if request.method == "POST":
        try:
            if user is not None:
                accepted = services.accept_invitation(token=token, user=user)
            elif form is not None and form.is_valid():
                accepted = services.accept_invitation(
                    token=token,
                    password=form.cleaned_data["password"],
                    full_name=form.cleaned_data["full_name"],
                )
                login(request, accepted, backend="django.contrib.auth.backends.ModelBackend")
            else:
                accepted = None
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            if accepted is not None:
                messages.success(request, "Welcome to OpenDCP.")
                if invitation.tenant is None:
                    return HttpResponseRedirect("/")
                # Sessions are per host: hand the sign-in over to the tenant's host.
                token = handoff.issue(request=request, user=accepted, tenant=invitation.tenant)
                return HttpResponseRedirect(invitation.tenant.url(f"/switch/continue/{token}/"))
    return render(
        request,
        "tenants/invitation_accept.html",
        {
            "invitation": invitation,
            "form": form,
            "signed_in_user": user,
            "needs_sign_in": user is None and existing,
            "error": error,
        },
    )
