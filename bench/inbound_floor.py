"""The floor of section `inbound`: a minimal Django view that verifies the DIP signature, splits
the JSON array and inserts one row per message (one multi-row INSERT: like for like with the
full path, which stores every message of the callback), served at /bench/floor/<token>/ by a
middleware placed where the webhook's is (bench settings only; never in the product urls)."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from django.db import connection
from django.http import HttpRequest, HttpResponse

from dip.signing import SignatureVerificationError
from messaging.inbound.webhook import verifier

PREFIX = "/bench/floor/"


def floor_view(request: HttpRequest, token: str) -> HttpResponse:
    body = request.body
    url = f"{_base()}{PREFIX}{token}/"
    try:
        verifier().verify(method="POST", url=url, body=body, headers=request.headers)
    except SignatureVerificationError:
        return HttpResponse(status=400)
    with connection.cursor() as cur:
        items = [orjson.dumps(item) for item in orjson.loads(body)]
        cur.execute(
            "INSERT INTO public.bench_floor (size, body) "
            "SELECT length(b), b FROM unnest(%s::bytea[]) AS b",
            [items],
        )
    return HttpResponse(b'{"ok":true}', status=201, content_type="application/json")


def _base() -> str:
    from django.conf import settings

    return str(settings.DIP_WEBHOOK_BASE_URL).rstrip("/")


class FloorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(PREFIX):
            return floor_view(request, request.path_info[len(PREFIX) :].strip("/"))
        return self.get_response(request)
