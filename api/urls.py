from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from . import user_routes
from .views import analytics, ceremonies, client_events, credentials, login_decisions, ops, tokens

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
    path("v1/client-events", client_events.ClientEventsApi.as_view()),
    path("v1/login-decisions", login_decisions.LoginDecisionsApi.as_view()),
    # GET /v1/users/{user_id}/credentials and DELETE /v1/users/{user_id}, for ids with "/" (and, to be
    # refused as input, line breaks: <path:…>'s "." would leave "%0A" to a 404).
    re_path(r"^v1/users/(?P<rest>(?s:.+))\Z", user_routes.user_routes),
    path("v1/credentials/<str:credential_id>", credentials.CredentialApi.as_view()),
    path("v1/tenants/<str:tenant_id>/jwks.json", tokens.JwksApi.as_view(), name="jwks"),
    path("v1/tenants/<str:tenant_id>/related-origins", tokens.RelatedOriginsApi.as_view(), name="related-origins"),
    path("v1/sign-ins", analytics.SignInsApi.as_view()),
    path("v1/nudges/<uuid:nudge_id>/outcome", analytics.NudgeOutcomeApi.as_view()),
    path("v1/metrics/adoption", analytics.AdoptionMetricsApi.as_view()),
]
