"""``/api/v1/me/token/``: the signed-in person's API token (issue, look, revoke)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import tokens
from tenants.permissions import acting_user

_Issued = inline_serializer(
    "ApiTokenIssued",
    {
        "key": serializers.CharField(),
        "created": serializers.DateTimeField(),
        "expires_at": serializers.DateTimeField(),
    },
)
_State = inline_serializer(
    "ApiTokenState",
    {
        "exists": serializers.BooleanField(),
        "created": serializers.DateTimeField(allow_null=True),
        "expires_at": serializers.DateTimeField(allow_null=True),
        "expired": serializers.BooleanField(),
    },
)


class ApiTokenView(APIView):
    """Session only (a token cannot mint a token); issuing needs a session that passed MFA.
    The key is shown once, when issued."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=_State)
    def get(self, request: Request) -> Response:
        token = tokens.current_token(user=acting_user(request))
        return Response(
            {
                "exists": token is not None,
                "created": token.created if token else None,
                "expires_at": tokens.expires_at(token) if token else None,
                "expired": tokens.is_expired(token) if token else False,
            }
        )

    @extend_schema(request=None, responses={201: _Issued})
    def post(self, request: Request) -> Response:
        issued = tokens.issue_api_token(request=request._request, user=acting_user(request))
        return Response(
            {"key": issued.key, "created": issued.created, "expires_at": issued.expires_at},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        tokens.revoke_api_token(request=request._request, user=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
