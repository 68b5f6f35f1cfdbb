from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dashboard/", include("analytics.urls")),
    path("", include("api.urls")),
]
if settings.DEMO_ENABLED:
    urlpatterns.insert(-1, path("demo/", include("demo.urls")))

handler400 = "api.errors.bad_request_view"
handler404 = "api.errors.not_found_view"
handler500 = "api.errors.server_error_view"
