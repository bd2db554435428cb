from django.urls import path

from health import views

urlpatterns = [path("status/<str:part>", views.status)]
