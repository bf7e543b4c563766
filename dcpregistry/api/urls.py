"""Platform-host API routes (included under /api/v1/ by dcp.urls_public)."""

from rest_framework.routers import SimpleRouter

from dcpregistry.api import views

router = SimpleRouter()
router.register("dcp-status", views.DcpStatusViewSet, basename="dcp-status")
router.register("dcp-ids", views.DcpIdViewSet, basename="dcp-id")

urlpatterns = router.urls
