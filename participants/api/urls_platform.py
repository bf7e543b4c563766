"""Platform-host onboarding API (included under /api/v1/ by dcp.urls_public)."""

urlpatterns: list = []
