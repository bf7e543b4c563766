from django.urls import path
from rest_framework.routers import DefaultRouter

from evidence.api import views

router = DefaultRouter()
router.register("evidence/packs", views.PackViewSet, basename="evidence-pack")

urlpatterns = [
    path("evidence/reconciliation/operational/", views.OperationalView.as_view()),
    path("evidence/reconciliation/business/", views.BusinessView.as_view()),
    path("evidence/reconciliation/assurance/", views.AssuranceView.as_view()),
    path("evidence/messages/<uuid:public_id>/lineage/", views.LineageView.as_view()),
    *router.urls,
]
