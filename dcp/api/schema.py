"""OpenAPI: one schema per kind of host, and the error answers every operation can give.

The platform host (the bare BASE_DOMAIN) and a client tenant's host serve different APIs
(``dcp.urls_public`` and ``dcp.urls_tenant``), so each host's ``/api/schema/`` is generated
from its own URLconf — not from ROOT_URLCONF, which is the tenant one.

Every refusal has the one body of ``dcp.api.errors`` (``{"code", "message", "details"}``).
Rather than repeat ``400/401/403/404`` on each view, a postprocessing hook documents them on
every operation where they can happen; views document only what is particular to them (a 409,
a 202). The schemathesis run in tests/security holds the schema to what the API answers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import URLPattern, path
from drf_spectacular import openapi
from rest_framework import serializers

HTTP_METHODS = ("get", "put", "patch", "post", "delete", "head", "options", "trace")

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every refusal: a stable machine-readable code, a sentence for people and "
    "per-field details (validation errors) or null.",
    "properties": {
        "code": {"type": "string", "example": "invalid"},
        "message": {"type": "string"},
        "details": {"nullable": True, "description": "Field name → messages, or null."},
    },
    "required": ["code", "message"],
}

_DESCRIPTIONS = {
    "400": "Invalid input (`code` says why; `details` names the fields).",
    "401": "Not authenticated (token authentication).",
    "403": "Not authenticated (session), multi-factor authentication required, or not allowed.",
    "404": "No such object here (or not visible to you), or no such page.",
    "415": "Unsupported media type: send JSON.",
    "429": "Too many requests: retry after the `Retry-After` header.",
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, except that only a GET list is paginated: a POST that
    answers with a list (a bulk create, issued keys) returns a plain array."""

    def _get_paginator(self) -> Any:
        return super()._get_paginator() if self.method == "GET" else None


class ErrorSerializer(serializers.Serializer):
    """For views that document a particular refusal: ``responses={409: ErrorSerializer}``."""

    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(allow_null=True, required=False)

    class Meta:
        ref_name = ERROR_COMPONENT


def _error_codes(
    path_name: str, method: str, operation: dict[str, Any], throttled: bool
) -> list[str]:
    params = operation.get("parameters", [])
    codes = ["401", "403"]
    # A write can be refused by a service's rules (dcp.errors.invalid) even without a body.
    if method != "get" or any(p.get("in") == "query" for p in params):
        codes.append("400")
    if "{" in path_name or any(p.get("name") == "page" for p in params):
        codes.append("404")  # an object that is not there, or a page past the end
    if operation.get("requestBody"):
        codes.append("415")
    if throttled:
        codes.append("429")
    return codes


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document the shared error answers."""
    throttled = bool(settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_CLASSES"))
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_name, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in _error_codes(path_name, method, operation, throttled):
                responses.setdefault(
                    code,
                    {
                        "description": _DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result


def _created_fields(result: dict[str, Any], response: dict[str, Any]) -> set[str]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = result["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
    return set(schema.get("properties", {}))


def add_create_links(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: OpenAPI links from each create (``POST /x/`` →
    201) to the operations on what it created (``/x/{id}/…``), the response field filling the
    path parameter. Clients and stateful testing (schemathesis) follow them: create, then read,
    change, act on the same object."""
    paths = result.get("paths", {})
    for path_name, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if not created or not path_name.endswith("/"):
            continue
        fields = _created_fields(result, created)
        links: dict[str, Any] = {}
        for other, other_ops in paths.items():
            tail = other[len(path_name) :]
            if not (other.startswith(path_name) and tail.startswith("{")):
                continue
            param = tail[1 : tail.index("}")]
            if param not in fields or "{" in tail[tail.index("}") :]:
                continue
            for method, op in other_ops.items():
                if method in HTTP_METHODS and op.get("operationId"):
                    links[op["operationId"]] = {
                        "operationId": op["operationId"],
                        "parameters": {param: f"$response.body#/{param}"},
                    }
        if links:
            created["links"] = links
    return result


def schema_urlpatterns(*, urlconf: str, title: str, description: str) -> list[URLPattern]:
    """``/api/schema/`` and ``/api/docs/`` for the host whose URLconf is ``urlconf``."""
    # Imported here: the views build on APIView, whose DEFAULT_SCHEMA_CLASS is this module's.
    from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

    schema_view = SpectacularAPIView.as_view(
        urlconf=urlconf, custom_settings={"TITLE": title, "DESCRIPTION": description}
    )
    return [
        path("api/schema/", schema_view, name="api-schema"),
        path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    ]
