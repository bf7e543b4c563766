"""Admin API (JSON, ``Authorization: Bearer <admin token>`` or ``X-Admin-Token``).

| Method and path | What |
|---|---|
| ``GET /admin/registry`` | the registry (API keys masked; ``?reveal=1`` shows them) |
| ``PUT /admin/dip-ids/{dip_id}`` | create/replace a DIP ID entry (role, keys, webhooks ...) |
| ``DELETE /admin/dip-ids/{dip_id}`` | remove it |
| ``PUT /admin/mpans/{mpan}`` | appointed parties of an MPAN (``{"SUP": "...", "gsp": "_K"}``) |
| ``PUT /admin/trust-roots`` | ``{"pem": ...}`` adds a trust root; ``{"reset": true}``: CA only |
| ``GET /admin/pki/ca`` | the sandbox CA certificate (PEM) that signs deliveries |
| ``POST /admin/pki/issue`` | ``{"common_name": ...}`` -> signing/mTLS key + cert (sandbox CA) |
| ``GET/POST/DELETE /admin/faults[/{id}]`` | list, add, remove (all) faults |
| ``GET /admin/scenarios`` | scenario names and runs |
| ``POST /admin/scenarios/{name}/start`` | start a run (body: overrides) |
| ``POST /admin/scenarios/runs/{id}/stop`` | stop a run |
| ``GET /admin/stats`` | counters; ``POST /admin/drain`` waits for in-flight deliveries |
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dip.pki import load_certificates
from sandbox.core import Sandbox
from sandbox.faults import FaultError
from sandbox.registry import RegistryError
from sandbox.scenarios import ScenarioError


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _authorised(sb: Sandbox, request: Request) -> bool:
    token = request.headers.get("X-Admin-Token") or ""
    auth = request.headers.get("Authorization") or ""
    if auth.lower().startswith("bearer "):
        token = auth[7:]
    return bool(token) and hmac.compare_digest(token.encode(), sb.registry.admin_token.encode())


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def build(sb: Sandbox) -> list[BaseRoute]:
    def admin(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if not _authorised(sb, request):
                return _error(401, "admin token required")
            try:
                result: Response = await fn(request)
            except (ValueError, KeyError, RegistryError, FaultError, ScenarioError) as exc:
                return _error(400, f"{type(exc).__name__}: {exc}")
            return result

        return endpoint

    async def registry(request: Request) -> Response:
        return _json(sb.registry.to_dict(reveal_keys=request.query_params.get("reveal") == "1"))

    async def dip_id(request: Request) -> Response:
        did = request.path_params["dip_id"]
        if request.method == "DELETE":
            return _json({"removed": sb.registry.remove_dip_id(did)})
        data = await _body(request)
        entry = sb.registry.upsert_dip_id({**data, "dip_id": did})
        return _json(entry.to_dict(), 200)

    async def mpan(request: Request) -> Response:
        entry = sb.registry.upsert_mpan(request.path_params["mpan"], await _body(request))
        return _json({"mpan": entry.mpan_core, **entry.to_dict()})

    async def trust_roots(request: Request) -> Response:
        data = await _body(request)
        if data.get("reset"):
            sb.registry.trust_roots = ["sandbox"]
        if data.get("pem"):
            load_certificates(str(data["pem"]))  # validate before storing
            # Absolute: relative trust-root paths are read against the registry's folder, and
            # the state folder is often relative to the working directory (``--db .local/...``).
            name = f"trust-{len(sb.registry.trust_roots)}.pem"
            path = (sb.settings.state / "pki" / name).resolve()
            path.write_text(str(data["pem"]), encoding="ascii")
            sb.registry.trust_roots.append(str(path))
        sb.verifier = sb.build_verifier()
        return _json({"trust_roots": sb.registry.trust_roots})

    async def ca(request: Request) -> Response:
        return Response(sb.pki.ca_cert_pem, media_type="application/x-pem-file")

    async def issue(request: Request) -> Response:
        data = await _body(request)
        issued = sb.pki.issue_client(str(data.get("common_name", "client.sandbox.localhost")))
        return _json(
            {
                "cert_pem": issued.cert_pem.decode(),
                "key_pem": issued.key_pem.decode(),
                "ca_pem": sb.pki.ca_cert_pem.decode(),
                "fingerprint_sha256": issued.fingerprint_sha256,
            },
            201,
        )

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            return _json(sb.faults.add(await _body(request)).to_dict(), 201)
        if request.method == "DELETE":
            return _json({"removed": sb.faults.clear()})
        return _json([f.to_dict() for f in sb.faults.active()])

    async def fault(request: Request) -> Response:
        return _json({"removed": sb.faults.remove(request.path_params["fault_id"])})

    async def scenarios(request: Request) -> Response:
        return _json({"available": sb.scenarios.available(), "runs": sb.scenarios.runs()})

    async def scenario_start(request: Request) -> Response:
        run = sb.scenarios.start(request.path_params["name"], await _body(request))
        return _json(run.to_dict(), 201)

    async def scenario_stop(request: Request) -> Response:
        run = await sb.scenarios.stop(request.path_params["run_id"])
        return _json(run.to_dict() if run else {"error": "no such run"}, 200 if run else 404)

    async def stats(request: Request) -> Response:
        return _json(stats_of(sb))

    async def drain(request: Request) -> Response:
        data = await _body(request)
        ok = await sb.engine.drain(float(data.get("timeout", 30)))
        sb.statuses.flush()
        ok = await sb.engine.drain(float(data.get("timeout", 30))) and ok
        await sb.store.flush()
        return _json({"drained": ok, **stats_of(sb)})

    return [
        Route("/admin/registry", admin(registry), methods=["GET"]),
        Route("/admin/dip-ids/{dip_id}", admin(dip_id), methods=["PUT", "DELETE"]),
        Route("/admin/mpans/{mpan}", admin(mpan), methods=["PUT"]),
        Route("/admin/trust-roots", admin(trust_roots), methods=["PUT"]),
        Route("/admin/pki/ca", admin(ca), methods=["GET"]),
        Route("/admin/pki/issue", admin(issue), methods=["POST"]),
        Route("/admin/faults", admin(faults), methods=["GET", "POST", "DELETE"]),
        Route("/admin/faults/{fault_id}", admin(fault), methods=["DELETE"]),
        Route("/admin/scenarios", admin(scenarios), methods=["GET"]),
        Route("/admin/scenarios/{name}/start", admin(scenario_start), methods=["POST"]),
        Route("/admin/scenarios/runs/{run_id}/stop", admin(scenario_stop), methods=["POST"]),
        Route("/admin/stats", admin(stats), methods=["GET"]),
        Route("/admin/drain", admin(drain), methods=["POST"]),
    ]


def stats_of(sb: Sandbox) -> dict[str, Any]:
    return {
        "accepted_messages": sb.router.accepted,
        "delivered_messages": sb.engine.delivered_messages,
        "callbacks_sent": sb.engine.callbacks_sent,
        "pending_callbacks": sb.engine.pending,
        "status_messages": sb.statuses.emitted,
        "store_commits": sb.store.commits,
        "faults": len(sb.faults.active()),
    }
