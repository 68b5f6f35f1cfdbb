"""/v1/users/{user_id}/credentials and /v1/users/{user_id}: one URL pattern for both, since a user id
may hold "/" and servers decode %2F before routing; and how the OpenAPI schema names them."""

from __future__ import annotations

from django.views.decorators.csrf import csrf_exempt

from core.errors import ErrorCode
from core.problems import problem_response

from .views import credentials

CREDENTIALS_SUFFIX = "/credentials"
LIST_ROUTE = ("GET", "v1/users/<str:user_id>/credentials", credentials.UserCredentialsApi.as_view())
ERASE_ROUTE = ("DELETE", "v1/users/<str:user_id>", credentials.UserApi.as_view())
# What `user_routes` serves, as the contract (and so the OpenAPI schema) names it.
USER_ROUTES = (LIST_ROUTE, ERASE_ROUTE)


def _serve(request, route: tuple, user_id: str):
    if request.resolver_match is not None:
        # Metrics and logs name the contract's route that answered, not <path:rest>.
        request.resolver_match.route = route[1]
    return route[2](request, user_id=user_id)


@csrf_exempt  # an API-key route like every APIView, which DRF exempts too
def user_routes(request, rest: str):
    """/v1/users/{user_id}/credentials (GET) and /v1/users/{user_id} (DELETE) for every user id that
    registrations/start takes, "/" included: servers decode %2F before routing, so a path segment
    cannot delimit the id. GET lists the user named by all but a trailing "/credentials"
    (`x/credentials` is /v1/users/x%2Fcredentials/credentials); DELETE erases the user named by it all.
    """
    listing = rest.endswith(CREDENTIALS_SUFFIX)
    if listing and request.method in ("GET", "HEAD", "OPTIONS"):
        return _serve(request, LIST_ROUTE, rest[: -len(CREDENTIALS_SUFFIX)])
    if request.method in ("DELETE", "OPTIONS"):
        return _serve(request, ERASE_ROUTE, rest)
    response = problem_response(ErrorCode.METHOD_NOT_ALLOWED, f'Method "{request.method}" not allowed.')
    response["Allow"] = "GET, HEAD, DELETE, OPTIONS" if listing else "DELETE, OPTIONS"
    return response


def document_user_routes(endpoints: list, **kwargs) -> list:
    """PREPROCESSING_HOOK: /v1/users/<path:rest> is one function routing by method and suffix (ids may
    hold "/"); document what it serves under the contract's own paths and operations."""
    for method, route, callback in USER_ROUTES:
        endpoints.append(("/" + route.replace("<str:user_id>", "{user_id}"), route, method, callback))
    return endpoints
