"""URLs of a client tenant's host (<slug>.BASE_DOMAIN)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from audit.api.views import AuditEventViewSet
from dcp.api.schema import schema_urlpatterns
from dcp.urls_common import common_urlpatterns
from tenants import views, views_security
from tenants.api.security import MfaPolicyView
from tenants.api.views import CurrentTenantView, InvitationViewSet, MembershipViewSet

router = DefaultRouter()
router.register("members", MembershipViewSet, basename="member")
router.register("invitations", InvitationViewSet, basename="invitation")
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("", views.tenant_home, name="home"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("members/mfa-policy/", views_security.mfa_policy, name="member_mfa_policy"),
    path("members/<int:pk>/role/", views.member_role, name="member_role"),
    path("members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("audit/", views.audit_log, name="audit_log"),
    path("api/v1/tenant/", CurrentTenantView.as_view(), name="api-tenant"),
    path("api/v1/tenant/mfa-policy/", MfaPolicyView.as_view(), name="api-tenant-mfa-policy"),
    path("api/v1/", include(router.urls)),
    path("api/v1/", include("participants.api.urls")),
    path("setup/", include("participants.urls")),
    path("api/v1/", include("certificates.api.urls")),
    path("certificates/", include("certificates.urls")),
    path("api/v1/", include("messaging.outbound.api.urls")),
    path("messages/", include("messaging.urls")),
    path("api/v1/", include("messaging.inbound.api.urls")),
    path("messages/endpoints/", include("messaging.inbound.urls")),
    path("console/", include("console.urls")),
    path("api/v1/", include("console.api")),
    path("evidence/", include("evidence.urls")),
    path("api/v1/", include("evidence.api.urls")),
    *schema_urlpatterns(
        urlconf="dcp.urls_tenant",
        title="OpenDCP client API",
        description="A client tenant's API on its own host: members and invitations, "
        "onboarding set-up (MPID roles, DIP IDs, nominations, API keys, channels), "
        "certificates, outbound and inbound messages, the operations console and evidence.",
    ),
    *common_urlpatterns,
]

handler404 = "dcp.api.errors.page_not_found"
