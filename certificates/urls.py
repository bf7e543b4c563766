from django.urls import path

from . import views

app_name = "certificates"
urlpatterns = [
    path("", views.inventory, name="inventory"),
    path("request/", views.request_new, name="request"),
    path("import/", views.import_existing, name="import"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/renew/", views.renew, name="renew"),
    path("<int:pk>/revoke/", views.revoke, name="revoke"),
    path("<int:pk>/switch-over/", views.switch_over, name="switch_over"),
]
