"""Tenant-host onboarding pages (included under /setup/)."""

from django.urls import path

from participants import views

app_name = "participants"
urlpatterns = [
    path("", views.setup_home, name="home"),
    path("profile/", views.profile_update, name="profile"),
    path("checklist/<str:environment>/<int:step>/", views.checklist_update, name="checklist"),
    path("mpid-roles/", views.mpid_role_add, name="mpid_role_add"),
    path("dip-ids/", views.dip_id_create, name="dip_id_create"),
    path("dip-ids/<int:pk>/", views.dip_id_detail, name="dip_id"),
    path("dip-ids/<int:pk>/<str:op>/", views.dip_id_action, name="dip_id_action"),
    path("nominations/<int:pk>/revoke/", views.nomination_revoke, name="nomination_revoke"),
    path("keys/<int:pk>/retire/", views.key_retire, name="key_retire"),
    path("channels/", views.channel_list, name="channels"),
    path("channels/<int:pk>/toggle/", views.channel_toggle, name="channel_toggle"),
    path("promotion/", views.promotion_page, name="promotion"),
    path("promotion/<str:op>/", views.promotion_action, name="promotion_action"),
]
