"""The evidence public key at a well-known URL, on every host."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from evidence.keys import public_key_pem

WELL_KNOWN_PATH = ".well-known/opendcp-evidence-key.pem"


@require_GET
def evidence_public_key(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(public_key_pem(), content_type="application/x-pem-file")
    response["Cache-Control"] = "public, max-age=3600"
    return response
