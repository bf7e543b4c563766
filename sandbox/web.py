"""Read-only HTML pages: ``/`` (participants and totals) and ``/traffic?participant=<DIP ID>``.

Server-rendered, no external assets, every value escaped.
"""

from __future__ import annotations

import asyncio
import time
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.core import Sandbox

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef}code{font-size:12px}.bad{color:#a00}.ok{color:#070}
nav a{margin-right:1rem}
"""


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><nav><a href='/'>DIP sandbox</a>"
        f"<a href='/healthz'>healthz</a></nav><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body or '<tr><td colspan=9>nothing yet</td></tr>'}</table>"


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else ""


def _state(value: str | None) -> str:
    cls = (
        "ok"
        if value == "Delivered"
        else "bad"
        if value in ("RejectedByRecipient", "RetriesExhausted")
        else ""
    )
    return f"<span class={cls}>{escape(value or '')}</span>"


def routes(sb: Sandbox) -> list[BaseRoute]:
    async def index(request: Request) -> Response:
        await sb.store.flush()
        counts = await asyncio.to_thread(
            sb.store.query,
            "SELECT recipient_dip_id, status, COUNT(*) AS n FROM deliveries GROUP BY 1, 2",
        )
        by: dict[str, dict[str, int]] = {}
        for r in counts:
            by.setdefault(r["recipient_dip_id"], {})[r["status"]] = r["n"]
        rows = []
        for e in sb.registry.dip_ids.values():
            link = f"<a href='/traffic?participant={escape(e.dip_id)}'>{escape(e.dip_id)}</a>"
            states = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(by.get(e.dip_id, {}).items()))
            kind = "simulated" if e.simulated else ("DCP" if e.is_dcp else "webhook")
            rows.append(
                [link, escape(e.participant), escape(e.role), escape(e.mpid or ""), kind, states]
            )
        info = (
            f"<p>Environment <b>{escape(sb.registry.environment)}</b>, spec edition "
            f"<b>{escape(sb.registry.spec_version)}</b>; accepted {sb.router.accepted} messages, "
            f"delivered {sb.engine.delivered_messages}, {sb.engine.pending} callbacks in flight, "
            f"{len(sb.faults.active())} active faults.</p>"
        )
        table = _table(["DIP ID", "participant", "role", "MPID", "kind", "deliveries"], rows)
        return _page("DIP sandbox", info + table)

    async def traffic(request: Request) -> Response:
        dip_id = request.query_params.get("participant", "")
        await sb.store.flush()
        sent = await asyncio.to_thread(
            sb.store.query,
            "SELECT transaction_id, interface_id, event_code, sender_unique_reference, mpan_core,"
            " received_at, origin FROM messages WHERE sender_dip_id = ?"
            " ORDER BY received_at DESC LIMIT 50",
            (dip_id,),
        )
        received = await asyncio.to_thread(
            sb.store.query,
            "SELECT d.transaction_id, d.interface_id, d.status, d.attempts, d.last_status_code,"
            " d.replays, d.updated_at, m.sender_dip_id FROM deliveries d JOIN messages m"
            " ON m.transaction_id = d.transaction_id WHERE d.recipient_dip_id = ?"
            " ORDER BY d.updated_at DESC LIMIT 50",
            (dip_id,),
        )
        statuses = await asyncio.to_thread(
            sb.store.query,
            "SELECT level, sender_id, transaction_id, message, status, created_at FROM"
            " status_messages WHERE recipient_dip_id = ? ORDER BY id DESC LIMIT 50",
            (dip_id,),
        )
        attempts = await asyncio.to_thread(
            sb.store.query,
            "SELECT callback_id, kind, messages, attempt, status_code, latency_ms, error, at FROM"
            " attempts WHERE recipient_dip_id = ? ORDER BY id DESC LIMIT 50",
            (dip_id,),
        )
        e = escape
        body = "<h2>Sent</h2>" + _table(
            ["received", "transaction", "interface", "event", "SUR", "MPAN", "origin"],
            [
                [
                    _when(r["received_at"]),
                    f"<code>{e(r['transaction_id'])}</code>",
                    e(r["interface_id"]),
                    e(r["event_code"] or ""),
                    f"<code>{e(r['sender_unique_reference'])}</code>",
                    e(r["mpan_core"] or ""),
                    e(r["origin"]),
                ]
                for r in sent
            ],
        )
        body += "<h2>Received (deliveries)</h2>" + _table(
            [
                "updated",
                "transaction",
                "interface",
                "from",
                "state",
                "attempts",
                "last HTTP",
                "replays",
            ],
            [
                [
                    _when(r["updated_at"]),
                    f"<code>{e(r['transaction_id'])}</code>",
                    e(r["interface_id"]),
                    e(r["sender_dip_id"]),
                    _state(r["status"]),
                    r["attempts"],
                    r["last_status_code"] or "",
                    r["replays"],
                ]
                for r in received
            ],
        )
        body += "<h2>Status messages to this DIP ID</h2>" + _table(
            ["created", "level", "from", "transaction", "message", "state"],
            [
                [
                    _when(r["created_at"]),
                    e(r["level"]),
                    e(r["sender_id"]),
                    f"<code>{e(r['transaction_id'] or '')}</code>",
                    e(r["message"] or ""),
                    _state(r["status"]),
                ]
                for r in statuses
            ],
        )
        body += "<h2>Callback attempts</h2>" + _table(
            ["at", "callback", "kind", "messages", "attempt", "HTTP", "ms", "error"],
            [
                [
                    _when(r["at"]),
                    e(r["callback_id"]),
                    e(r["kind"]),
                    r["messages"],
                    r["attempt"],
                    r["status_code"] or "",
                    f"{r['latency_ms'] or 0:.1f}",
                    e(r["error"] or ""),
                ]
                for r in attempts
            ],
        )
        entry = sb.registry.get(dip_id)
        title = f"Traffic for {dip_id}" + (f" ({entry.participant}, {entry.role})" if entry else "")
        return _page(title, body)

    return [Route("/", index), Route("/traffic", traffic)]
