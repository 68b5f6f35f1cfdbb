from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from .views import analytics, ceremonies, credentials, ops, tokens

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("v1/registrations/start", ceremonies.RegistrationStartApi.as_view()),
    path("v1/registrations/finish", ceremonies.RegistrationFinishApi.as_view()),
    path("v1/authentications/start", ceremonies.AuthenticationStartApi.as_view()),
    path("v1/authentications/finish", ceremonies.AuthenticationFinishApi.as_view()),
    path("v1/users/<str:user_id>/credentials", credentials.UserCredentialsApi.as_view()),
    path("v1/users/<str:user_id>", credentials.UserApi.as_view()),
    path("v1/credentials/<str:credential_id>", credentials.CredentialApi.as_view()),
    path("v1/tenants/<str:tenant_id>/jwks.json", tokens.JwksApi.as_view(), name="jwks"),
    path("v1/sign-ins", analytics.SignInsApi.as_view()),
    path("v1/nudges/<uuid:nudge_id>/outcome", analytics.NudgeOutcomeApi.as_view()),
    path("v1/metrics/adoption", analytics.AdoptionMetricsApi.as_view()),
]
