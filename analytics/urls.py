from django.urls import path

urlpatterns: list = []  # the dashboard's routes
