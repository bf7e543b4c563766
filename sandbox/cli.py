"""Command line: ``python -m sandbox serve | scenario ... | fault ...``.

``serve`` runs the sandbox (uvicorn, uvloop + httptools). ``scenario`` and ``fault`` talk to a
running sandbox's admin API (``--url``, ``--token`` or ``$SANDBOX_URL``/``$SANDBOX_ADMIN_TOKEN``);
``scenario run --in-process`` runs a scenario without an HTTP server instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from sandbox.core import DEFAULT_DB, Sandbox, Settings
from sandbox.registry import DEFAULT_ADMIN_TOKEN

DEFAULT_REGISTRY = Path(__file__).resolve().parent / "registry.demo.yaml"


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        host=args.host,
        port=args.port,
        registry_path=Path(args.registry) if args.registry else None,
        db_path=Path(args.db),
        state_dir=Path(args.state_dir) if args.state_dir else None,
        tls=args.tls,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
        tls_ca=Path(args.tls_ca) if args.tls_ca else None,
        public_url=args.public_url,
        environment=args.environment,
        spec_version=args.spec_version,
        max_clock_skew=args.max_clock_skew,
        retry_attempts=args.retry_attempts,
        retry_base_delay=args.retry_base_delay,
        retry_max_delay=args.retry_max_delay,
        per_recipient=args.per_recipient,
        callback_messages=args.callback_messages,
        wording=getattr(args, "wording", "spec"),
    )


def _add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8800)
    p.add_argument("--registry", default=str(DEFAULT_REGISTRY), help="registry YAML")
    p.add_argument("--db", default=str(DEFAULT_DB), help="SQLite file (default %(default)s)")
    p.add_argument("--state-dir", help="PKI and other state (default: the database's folder)")
    p.add_argument("--tls", action="store_true", help="HTTPS with client certificates required")
    p.add_argument("--tls-cert", help="server certificate (default: generated)")
    p.add_argument("--tls-key", help="server key (default: generated)")
    p.add_argument("--tls-ca", help="CA bundle for client certificates (default: sandbox CA)")
    p.add_argument("--public-url", help="base URL clients sign (default: the URL as received)")
    p.add_argument("--environment", help="override the registry's environment tag")
    p.add_argument("--spec-version", choices=("2.1.0", "2.2.1"), help="default edition")
    p.add_argument("--max-clock-skew", type=float, default=300.0, help="seconds")
    p.add_argument("--retry-attempts", type=int, default=8)
    p.add_argument("--retry-base-delay", type=float, default=0.5)
    p.add_argument("--retry-max-delay", type=float, default=30.0)
    p.add_argument("--per-recipient", type=int, default=16, help="concurrent callbacks each")
    p.add_argument("--callback-messages", type=int, default=100, help="messages per callback")
    p.add_argument(
        "--wording",
        choices=("spec", "terse"),
        default=os.environ.get("SANDBOX_WORDING", "spec"),
        help="terse: rewrite every free-text message, keep the codes (drills)",
    )


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sandbox.app import build_app, ssl_options

    settings = _settings(args)
    sb = Sandbox.create(settings)
    app = build_app(sb)
    scheme = "https" if settings.tls else "http"
    print(
        f"DIP sandbox on {scheme}://{settings.host}:{settings.port} "
        f"({sb.registry.environment}, spec {sb.registry.spec_version}, db {settings.db_path})"
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        access_log=args.access_log,
        loop="uvloop",
        http="httptools",
        **ssl_options(settings, sb),  # type: ignore[arg-type]
    )
    return 0


def _client(args: argparse.Namespace) -> httpx.Client:
    return httpx.Client(
        base_url=args.url,
        headers={"X-Admin-Token": args.token},
        timeout=60.0,
        verify=False,  # noqa: S501 - dev sandbox, self-signed
    )


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    with _client(args) as client:
        response = client.request(method, path, json=body)
    data = response.json() if response.content else {}
    if response.status_code >= 400:
        _print(data)
        raise SystemExit(1)
    return data


def scenario(args: argparse.Namespace) -> int:
    overrides = _overrides(args)
    if args.action == "list":
        _print(_call(args, "GET", "/admin/scenarios"))
    elif args.action == "stop":
        _print(_call(args, "POST", f"/admin/scenarios/runs/{args.name}/stop"))
    elif args.in_process:
        return asyncio.run(_run_in_process(args, overrides))
    else:
        run = _call(args, "POST", f"/admin/scenarios/{args.name}/start", overrides)
        _print(run)
        while args.wait and run["state"] == "running":
            time.sleep(1)
            runs = _call(args, "GET", "/admin/scenarios")["runs"]
            run = next(r for r in runs if r["id"] == run["id"])
        if args.wait:
            _print(run)
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if getattr(args, "rate", None) is not None:
        out["rate"] = args.rate
    if getattr(args, "duration", None) is not None:
        out["duration"] = args.duration
    for item in getattr(args, "set", None) or []:
        key, _, value = item.partition("=")
        out[key] = json.loads(value) if value[:1] in '[{0123456789.-"tfn' and value else value
    return out


async def _run_in_process(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    sb = Sandbox.create(_settings(args))
    await sb.start()
    try:
        run = sb.scenarios.start(args.name, overrides)
        assert run.task is not None
        await run.task
        await sb.engine.drain(60)
        sb.statuses.flush()
        await sb.engine.drain(60)
        _print({**run.to_dict(), "delivered_messages": sb.engine.delivered_messages})
    finally:
        await sb.stop()
    return 0


def fault(args: argparse.Namespace) -> int:
    if args.action == "list":
        _print(_call(args, "GET", "/admin/faults"))
    elif args.action == "clear":
        _print(_call(args, "DELETE", "/admin/faults"))
    elif args.action == "remove":
        _print(_call(args, "DELETE", f"/admin/faults/{args.kind}"))
    else:
        kind = "down" if args.action == "down" else args.kind
        spec: dict[str, Any] = {"side": args.side, "kind": kind}
        if args.action == "down" and args.side == "delivery" and not args.also_deliveries:
            spec["side"] = "send"
        keys = ("dip_id", "rate", "status", "seconds", "minutes", "duration", "times", "code")
        for key in (*keys, "retry_after"):
            value = getattr(args, key)
            if value is not None:
                spec[key] = value
        _print(_call(args, "POST", "/admin/faults", spec))
        if args.action == "down" and args.also_deliveries:
            _print(_call(args, "POST", "/admin/faults", {**spec, "side": "delivery"}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the sandbox DIP")
    _add_server_options(p)
    p.add_argument("--log-level", default="warning")
    p.add_argument("--access-log", action="store_true")
    p.set_defaults(func=serve)

    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--url", default=os.environ.get("SANDBOX_URL", "http://127.0.0.1:8800"))
    remote.add_argument(
        "--token", default=os.environ.get("SANDBOX_ADMIN_TOKEN", DEFAULT_ADMIN_TOKEN)
    )

    p = sub.add_parser("scenario", parents=[remote], help="list, run or stop scenario traffic")
    p.add_argument("action", choices=("list", "run", "stop"))
    p.add_argument("name", nargs="?", help="scenario name (run) or run id (stop)")
    p.add_argument("--rate", type=float, help="messages per second")
    p.add_argument("--duration", type=float, help="seconds")
    p.add_argument("--set", action="append", help="override any scenario key: key=value")
    p.add_argument("--no-wait", dest="wait", action="store_false", help="return at once")
    p.add_argument("--in-process", action="store_true", help="no server: run here, then exit")
    _add_server_options(p)
    p.set_defaults(func=scenario)

    p = sub.add_parser("fault", parents=[remote], help="inject faults")
    p.add_argument("action", choices=("add", "down", "list", "clear", "remove"))
    p.add_argument("kind", nargs="?", help="fault kind (add) or fault id (remove)")
    p.add_argument("--side", choices=("send", "delivery"), default="delivery")
    p.add_argument("--dip-id", help="only this caller (send) / recipient (delivery)")
    p.add_argument("--rate", type=float, help="probability 0..1 (error, drop)")
    p.add_argument("--status", type=int, help="HTTP status for kind=error")
    p.add_argument("--seconds", type=float, help="delay, or clock skew (may be negative)")
    p.add_argument("--minutes", type=float, help="fault lifetime in minutes")
    p.add_argument("--duration", type=float, help="fault lifetime in seconds")
    p.add_argument("--times", type=int, help="only the next N hits")
    p.add_argument("--code", help="reject_batch: this code for one item, MSG1000 for the rest")
    p.add_argument("--retry-after", type=int, help="error/down 503: Retry-After seconds (5)")
    p.add_argument("--also-deliveries", action="store_true", help="down: pause deliveries too")
    p.set_defaults(func=fault)

    args = parser.parse_args(argv)
    if args.command == "scenario" and args.action in ("run", "stop") and not args.name:
        parser.error("scenario run/stop needs a name or run id")
    result: int = args.func(args)
    sys.stdout.flush()
    return result
