from django.urls import path

from console import alert_views, views

app_name = "console"
urlpatterns = [
    path("", views.search_page, name="search"),
    path("export/", views.export, name="export"),
    path("saved/", views.saved_create, name="saved_create"),
    path("saved/<int:pk>/", views.saved_open, name="saved_open"),
    path("saved/<int:pk>/delete/", views.saved_delete, name="saved_delete"),
    path("bulk/", views.bulk_list, name="bulk_list"),
    path("bulk/new/", views.bulk_new, name="bulk_new"),
    path("bulk/<int:pk>/", views.bulk_detail, name="bulk_detail"),
    path("bulk/<int:pk>/<str:command>/", views.bulk_control, name="bulk_control"),
    path("exceptions/", views.exceptions, name="exceptions"),
    path("exceptions/<int:pk>/", views.exception_detail, name="exception_detail"),
    path("exceptions/<int:pk>/<str:verb>/", views.exception_act, name="exception_act"),
    path("resend/<uuid:public_id>/", views.resend_new, name="resend_new"),
    path("resends/<int:pk>/", views.resend_detail, name="resend_detail"),
    path("resends/<int:pk>/decide/", views.resend_decide, name="resend_decide"),
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("alerts/", alert_views.alert_list, name="alerts"),
    path("alerts/<int:pk>/ack/", alert_views.alert_ack, name="alert_ack"),
    path("dashboard.json", views.dashboard_json, name="dashboard_json"),
]
