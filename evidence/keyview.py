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


VERIFIER_PATH = ".well-known/opendcp-verify-evidence-pack.py"


@require_GET
def evidence_verifier(request: HttpRequest) -> HttpResponse:
    """The standalone verifier (``evidence/verify.py``: Python + cryptography only), served so
    an auditor can check a pack without trusting anything else from us but this one file,
    which they can read before running."""
    from pathlib import Path

    import evidence.verify

    source = Path(evidence.verify.__file__).read_bytes()
    response = HttpResponse(source, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verify_evidence_pack.py"'
    response["Cache-Control"] = "public, max-age=3600"
    return response
