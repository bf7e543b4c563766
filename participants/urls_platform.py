"""Platform-host onboarding pages for DCP staff (included under /onboarding/)."""

from django.urls import path

from participants import views_platform as v

app_name = "onboarding"
urlpatterns = [
    path("", v.board, name="board"),
    path("requests/<slug:slug>/<int:pk>/", v.decide_request, name="decide_request"),
    path("dcp-ids/", v.dcp_ids, name="dcp_ids"),
    path("dcp-ids/<str:op>/", v.dcp_action, name="dcp_action"),
    path("transfers/", v.transfers, name="transfers"),
    path("transfers/<str:op>/", v.transfer_action, name="transfer_action"),
    path("tenants/<slug:slug>/offboard/", v.offboard, name="offboard"),
    path("tenants/<slug:slug>/export/", v.export, name="export"),
]
