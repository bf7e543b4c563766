"""Platform-host onboarding API (included under /api/v1/ by dcp.urls_public)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from participants.api import views_more

router = SimpleRouter()
router.register("transfers", views_more.TransferViewSet, basename="transfer")
router.register("onboarding", views_more.OnboardingViewSet, basename="onboarding")

urlpatterns = [
    path("dip-id-requests/", views_more.PendingRequestsView.as_view(), name="api-dip-id-requests"),
    path("", include(router.urls)),
]
