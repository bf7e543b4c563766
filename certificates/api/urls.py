from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .views import AlertViewSet, CertificateViewSet, HealthView

router = DefaultRouter()
router.register("certificates", CertificateViewSet, basename="certificate")
router.register("certificate-alerts", AlertViewSet, basename="certificate-alert")

urlpatterns = [
    path("certificate-health/", HealthView.as_view(), name="api-certificate-health"),
    path("", include(router.urls)),
]
