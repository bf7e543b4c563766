from django.urls import path

from messaging.inbound import views

app_name = "messaging_inbound"
urlpatterns = [
    path("", views.endpoint_list, name="endpoints"),
    path("status-replies/", views.status_replies, name="status_replies"),
    path("duplicates/", views.duplicate_policy, name="duplicates"),
    path("<int:pk>/", views.endpoint_detail, name="endpoint"),
    path("<int:pk>/<str:verb>/", views.endpoint_action, name="endpoint_action"),
]
