from django.urls import include, path
from rest_framework.routers import DefaultRouter

from messaging.outbound.api import views

router = DefaultRouter()
router.register("client-api-keys", views.ClientApiKeyViewSet, basename="client-api-key")

urlpatterns = [
    path("outbound/messages/", views.SubmitView.as_view(), name="api-outbound-submit"),
    path(
        "outbound/messages/<uuid:public_id>/",
        views.MessageStatusView.as_view(),
        name="api-outbound-message",
    ),
    path(
        "outbound/availability/",
        views.AvailabilityView.as_view(),
        name="api-outbound-availability",
    ),
    path("", include(router.urls)),
]
