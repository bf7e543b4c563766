from django.urls import path
from rest_framework.routers import DefaultRouter

from messaging.inbound.api.duplicates import DuplicatePolicyView
from messaging.inbound.api.views import (
    ClientEndpointViewSet,
    FeedCursorView,
    FeedView,
    StatusReplyPolicyView,
)

router = DefaultRouter()
router.register("client-endpoints", ClientEndpointViewSet, basename="client-endpoint")

urlpatterns = [
    path("feed/", FeedView.as_view(), name="feed"),
    path("feed/cursor/", FeedCursorView.as_view(), name="feed-cursor"),
    path("status-reply-policy/", StatusReplyPolicyView.as_view(), name="status-reply-policy"),
    path("duplicate-policy/", DuplicatePolicyView.as_view(), name="duplicate-policy"),
    *router.urls,
]
