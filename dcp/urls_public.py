"""URLs of the platform host (the bare BASE_DOMAIN): DCP staff console.

There is no Django admin: its login was a second way in (password only, no MFA, no rate limit)
and its forms wrote tables past the services and their audit. Staff work in the console; every
sign-in goes through allauth (docs/security.md, "Login and MFA policy")."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from audit.api.views import AuditEventViewSet
from dcp.api.schema import schema_urlpatterns
from dcp.urls_common import common_urlpatterns
from messaging.inbound.webhook import inbound_webhook
from tenants import views
from tenants.api.views import InvitationViewSet, TenantViewSet

router = DefaultRouter()
router.register("tenants", TenantViewSet, basename="tenant")
router.register("staff-invitations", InvitationViewSet, basename="staff-invitation")
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("", views.platform_home, name="home"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/<slug:slug>/", views.tenant_detail, name="tenant_detail"),
    path("tenants/<slug:slug>/status/", views.tenant_status, name="tenant_status"),
    path("staff/", views.staff_list, name="staff_list"),
    path("audit/", views.audit_log, name="audit_log"),
    path("certificates/", include("certificates.urls_platform")),
    path("api/v1/", include(router.urls)),
    path("api/v1/", include("dcpregistry.api.urls")),
    path("api/v1/", include("participants.api.urls_platform")),
    path("onboarding/", include("participants.urls_platform")),
    path("console/", include("console.platform")),
    # DIP webhooks (also served on any host by messaging.inbound.webhook's middleware).
    path("dip/inbound/<str:token>/", inbound_webhook, name="dip_inbound"),
    *schema_urlpatterns(
        urlconf="dcp.urls_public",
        title="OpenDCP platform API",
        description="The DCP's own API on the platform host, for DCP staff: client tenants, "
        "staff invitations, the DCP registry (DCP status, DCP IDs, routes, transfers), "
        "onboarding and DIP ID requests, and the platform audit log.",
    ),
    *common_urlpatterns,
]

handler404 = "dcp.api.errors.page_not_found"
