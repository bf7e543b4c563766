"""Platform-host onboarding pages for DCP staff (included under /onboarding/)."""

urlpatterns: list = []
