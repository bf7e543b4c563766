"""URL patterns served on every host (platform and tenants). ``/api/schema/`` is not here:
each kind of host documents its own API (dcp.api.schema.schema_urlpatterns)."""

from django.urls import include, path

from dcp import health, metrics
from dcp import views as dcp_views
from evidence import keyview
from evidence import views as evidence_views
from tenants import views as tenant_views
from tenants import views_security, views_switch
from tenants.api.tokens import ApiTokenView
from tenants.api.views import MeView

common_urlpatterns = [
    # allauth's TOTP activation, also recording the MFA step in the session (tenants.mfa)
    path(
        "accounts/2fa/totp/activate/",
        views_security.ActivateTotpView.as_view(),
        name="mfa_activate_totp",
    ),
    path("accounts/", include("allauth.urls")),
    path("invitations/<str:token>/", tenant_views.accept_invitation, name="invitation_accept"),
    path("api/v1/me/", MeView.as_view(), name="api-me"),
    path("api/v1/me/token/", ApiTokenView.as_view(), name="api-me-token"),
    path("healthz", dcp_views.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("switch/", views_switch.switch_tenant, name="switch_tenant"),
    path("switch/continue/<str:token>/", views_switch.continue_switch, name="switch_continue"),
    path(keyview.WELL_KNOWN_PATH, keyview.evidence_public_key, name="evidence_public_key"),
    path(keyview.VERIFIER_PATH, keyview.evidence_verifier, name="evidence_verifier"),
    path("evidence/access/<slug:slug>/", evidence_views.auditor_access, name="evidence_access"),
]
