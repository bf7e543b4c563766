"""The ASGI application: DIP API (unprefixed = the registry's edition, ``/v2.1.0`` and
``/v2.2.1`` = that edition), admin API, read-only web pages, ``/healthz`` and ``/readyz``."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from dip.catalogue import SPEC_VERSIONS
from sandbox import admin, replayapi, sendapi, web
from sandbox.core import Sandbox, Settings
from sandbox.wording import RewordMiddleware


def dip_routes(sb: Sandbox, edition: str) -> list[BaseRoute]:
    return [*sendapi.routes(sb, edition), *replayapi.routes(sb, edition)]


def build_app(sb: Sandbox) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sb.start()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await sb.stop()

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "environment": sb.registry.environment,
                "spec_version": sb.registry.spec_version,
                "pending_callbacks": sb.engine.pending,
            }
        )

    async def readyz(request: Request) -> Response:
        # Ready once start-up (store, hot validators, engines) has finished; 503 before/after.
        ready = bool(getattr(request.app.state, "ready", False))
        return JSONResponse(
            {"status": "ok" if ready else "starting"}, status_code=200 if ready else 503
        )

    async def ca_pem(request: Request) -> Response:
        return Response(sb.pki.ca_cert_pem, media_type="application/x-pem-file")

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/sandbox/ca.pem", ca_pem),
        *web.routes(sb),
        *admin.build(sb),
        *(Mount(f"/v{edition}", routes=dip_routes(sb, edition)) for edition in SPEC_VERSIONS),
        *dip_routes(sb, sb.registry.spec_version),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(RewordMiddleware, wording=lambda: sb.settings.wording)
    app.state.sandbox = sb
    return app


def create_app(settings: Settings) -> Starlette:
    return build_app(Sandbox.create(settings))


def ssl_options(settings: Settings, sb: Sandbox) -> dict[str, object]:
    """uvicorn keyword arguments for ``--tls``: server cert/key and CERT_REQUIRED client auth."""
    if not settings.tls:
        return {}
    cert: Path = settings.tls_cert or sb.pki.server_cert_path
    key: Path = settings.tls_key or sb.pki.server_key_path
    ca: Path = settings.tls_ca or sb.pki.ca_path
    return {
        "ssl_certfile": str(cert),
        "ssl_keyfile": str(key),
        "ssl_ca_certs": str(ca),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }
