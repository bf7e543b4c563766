from django.urls import path

from messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.messages_page, name="list"),
    path("<uuid:public_id>/", views.message_detail, name="detail"),
]
