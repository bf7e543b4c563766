"""Tenant-host API routes for onboarding (included under /api/v1/ by dcp.urls_tenant)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from participants.api import views

router = SimpleRouter()
router.register("mpid-roles", views.MpidRoleViewSet, basename="mpid-role")
router.register("dip-ids", views.DipIdViewSet, basename="dip-id")
router.register("nominations", views.NominationViewSet, basename="nomination")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")
router.register("channels", views.ChannelViewSet, basename="channel")

urlpatterns = [
    path("dip-roles/", views.DipRoleView.as_view(), name="api-dip-roles"),
    path("profile/", views.ProfileView.as_view(), name="api-profile"),
    path("checklist/", views.ChecklistView.as_view(), name="api-checklist"),
    path("may-send/", views.MaySendView.as_view(), name="api-may-send"),
    path("", include(router.urls)),
]
