from django.urls import path

from evidence import views

app_name = "evidence"
urlpatterns = [
    path("", views.operational, name="operational"),
    path("business/", views.business, name="business"),
    path("business/pairs/", views.pair_add, name="pair_add"),
    path("business/pairs/<int:pk>/delete/", views.pair_delete, name="pair_delete"),
    path("assurance/", views.assurance, name="assurance"),
    path("lineage/<uuid:public_id>/", views.lineage, name="lineage"),
    path("packs/", views.packs, name="packs"),
    path("packs/<uuid:public_id>/", views.pack_detail, name="pack"),
    path("download/<str:token>/", views.download, name="download"),
]
