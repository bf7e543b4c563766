"""Tenant-host API routes for onboarding (included under /api/v1/ by dcp.urls_tenant)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from participants.api import views, views_more

router = SimpleRouter()
router.register("mpid-roles", views.MpidRoleViewSet, basename="mpid-role")
router.register("dip-ids", views.DipIdViewSet, basename="dip-id")
router.register("nominations", views.NominationViewSet, basename="nomination")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("sds-mdr-pairings", views_more.PairingViewSet, basename="sds-mdr-pairing")
router.register("interface-selections", views_more.SelectionViewSet, basename="interface-selection")
router.register("certifications", views_more.CertificationViewSet, basename="certification")
router.register("promotions", views_more.PromotionViewSet, basename="promotion")

urlpatterns = [
    path("dip-roles/", views.DipRoleView.as_view(), name="api-dip-roles"),
    path("profile/", views.ProfileView.as_view(), name="api-profile"),
    path("checklist/", views.ChecklistView.as_view(), name="api-checklist"),
    path("may-send/", views.MaySendView.as_view(), name="api-may-send"),
    path("", include(router.urls)),
]
