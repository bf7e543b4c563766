from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Readiness checks come with the operability work."""
    return JsonResponse({"status": "ok"})
