"""Replay and requeue (PROTOCOL.md §6) in both editions, selected by the URL prefix.

* v2.1.0: ``replay`` -> 200 + every matching ``DIPMessageEgressArray`` item; ``requeue`` ->
  200 (no body) after queueing the re-deliveries. ``transactionIDs``: 1-100 items.
* v2.2.1: ``replay`` pages (``replay_page_size``): 206 + ``X-Continuation-Token`` while more
  remain, 200 for the last page; ``requeue`` -> 202 + ``RequeueId`` (429 while one runs for the
  recipient); ``requeueStatus`` -> 200 ``RequeueStatusArray`` / 204; the same three for status
  messages under ``/statusmessage/...``; ``deliveryStatus`` journal per SUR.

Replayed and requeued publications carry ``D0.replayIndicator = true``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import os
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dip.codes import CODES
from sandbox.core import Sandbox
from sandbox.delivery import PUBLICATION, STATUS, Callback
from sandbox.guard import JSON, admit, standard
from sandbox.registry import Principal
from sandbox.selection import Selection, parse_message_request, parse_status_request

TOKEN = "X-Continuation-Token"
V221 = "2.2.1"


def _allowed(sb: Sandbox, principal: Principal, rid: str) -> Response | None:
    if not sb.registry.is_known(rid) or not sb.registry.may_act_for(principal, rid):
        return standard(403, CODES["MSG1009"].text(), f"{principal.dip_id} may not act for {rid}")
    return None


def _replayed(item: bytes) -> bytes:
    data = orjson.loads(item)
    data["payload"]["CommonBlock"]["D0"]["replayIndicator"] = True
    return orjson.dumps(data)


def _select_publications(sb: Sandbox, iid: str, rid: str, sel: Selection) -> list[Any]:
    sql = [
        "SELECT m.transaction_id, m.sender_dip_id, m.item FROM messages m JOIN deliveries d"
        " ON d.transaction_id = m.transaction_id"
        " WHERE d.recipient_dip_id = ? AND m.interface_id = ?"
    ]
    params: list[Any] = [rid, iid]
    for clause, value in sel.filters():
        sql.append(clause)
        params.append(value)
    if sel.transaction_ids:
        sql.append(f"AND m.transaction_id IN ({','.join('?' * len(sel.transaction_ids))})")
        params.extend(sel.transaction_ids)
    sql.append("ORDER BY m.received_at, m.transaction_id")
    return sb.store.query(" ".join(sql), params)


def _page(
    sb: Sandbox, edition: str, request: Request, body: bytes, rows: list[Any]
) -> tuple[list[Any], str | None] | Response:
    if edition != V221:
        return rows, None
    size = sb.settings.replay_page_size
    digest = hashlib.sha256(body + request.url.path.encode()).hexdigest()[:16]
    start = 0
    token = request.headers.get(TOKEN)
    if token:
        try:
            kind, offset, check = base64.urlsafe_b64decode(token.encode()).decode().split(":")
            start = int(offset)
            if kind != "p" or check != digest or start < 0:
                raise ValueError(token)
        except (ValueError, UnicodeDecodeError):
            return standard(
                400, CODES["MSG1001"].text(), f"{TOKEN} does not belong to this request"
            )
    page = rows[start : start + size]
    more = start + size < len(rows)
    nxt = base64.urlsafe_b64encode(f"p:{start + size}:{digest}".encode()).decode() if more else None
    return page, nxt


def _array(items: list[bytes], token: str | None) -> Response:
    headers = {TOKEN: token} if token else None
    return Response(
        b"[" + b",".join(items) + b"]", 206 if token else 200, headers=headers, media_type=JSON
    )


async def _admit_selection(
    sb: Sandbox, request: Request, parse: Any
) -> Response | tuple[Any, str, Any]:
    """Shared prelude of the replay/requeue endpoints: API key + signature (``admit``), the
    caller may act for ``recipient_id``, and the body parses into a selection."""
    admitted = await admit(sb, request)
    if isinstance(admitted, Response):
        return admitted
    principal, body = admitted
    rid = request.path_params["recipient_id"]
    denied = _allowed(sb, principal, rid)
    if denied:
        return denied
    sel = parse(body)
    if isinstance(sel, str):
        return standard(400, CODES["MSG1001"].text(), sel)
    return body, rid, sel


async def replay(sb: Sandbox, edition: str, request: Request) -> Response:
    checked = await _admit_selection(sb, request, parse_message_request)
    if isinstance(checked, Response):
        return checked
    body, rid, sel = checked
    iid = request.path_params["interface_id"]
    await sb.store.flush()
    rows = await asyncio.to_thread(_select_publications, sb, iid, rid, sel)
    paged = _page(sb, edition, request, body, rows)
    if isinstance(paged, Response):
        return paged
    page, token = paged
    return _array([_replayed(r["item"]) for r in page], token)


def _requeue_id(rid: str) -> str:
    return f"{rid}-{datetime.now(UTC):%Y%m%d}-{os.urandom(8).hex()}"


def _busy(sb: Sandbox, key: str) -> bool:
    return any(r["key"] == key and r["status"] == "Processing" for r in sb.requeues.values())


async def _run_requeue(sb: Sandbox, requeue_id: str, callbacks: list[Callback]) -> None:
    state = sb.requeues[requeue_id]
    tasks = {sb.engine.submit(cb): len(cb.items) for cb in callbacks}
    failed = 0
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            state["processed"] = int(state["processed"]) + tasks[task]
            if task.cancelled() or task.exception() or task.result() != "Delivered":
                failed += 1
    state["processed"] = state["total"]
    state["status"] = (
        "Completed" if not failed else ("Failed" if failed == len(tasks) else "PartialCompletion")
    )
    state["finished_at"] = time.time()


def _start_requeue(sb: Sandbox, key: str, rid: str, callbacks: list[Callback], total: int) -> str:
    requeue_id = _requeue_id(rid)
    sb.requeues[requeue_id] = {
        "key": key,
        "recipient": rid,
        "total": total,
        "processed": 0,
        "status": "Processing" if callbacks else "Completed",
        "started_at": time.time(),
    }
    if callbacks:
        asyncio.get_running_loop().create_task(_run_requeue(sb, requeue_id, callbacks))
    return requeue_id


def _publication_callbacks(sb: Sandbox, iid: str, rid: str, rows: list[Any]) -> list[Callback]:
    size = sb.settings.callback_messages
    out = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        out.append(
            Callback(
                kind=PUBLICATION,
                recipient=rid,
                interface_id=iid,
                items=[_replayed(r["item"]) for r in chunk],
                transaction_ids=[r["transaction_id"] for r in chunk],
                senders=[r["sender_dip_id"] for r in chunk],
            )
        )
    sb.store.write_many(
        "UPDATE deliveries SET replays = replays + 1, status = 'Pending'"
        " WHERE transaction_id=? AND recipient_dip_id=?",
        ((r["transaction_id"], rid) for r in rows),
    )
    return out


async def requeue(sb: Sandbox, edition: str, request: Request) -> Response:
    checked = await _admit_selection(sb, request, parse_message_request)
    if isinstance(checked, Response):
        return checked
    _body, rid, sel = checked
    iid = request.path_params["interface_id"]
    key = f"pub:{iid}:{rid}"
    if edition == V221 and _busy(sb, key):
        return Response(b"", 429)
    await sb.store.flush()
    rows = await asyncio.to_thread(_select_publications, sb, iid, rid, sel)
    callbacks = _publication_callbacks(sb, iid, rid, rows)
    requeue_id = _start_requeue(sb, key, rid, callbacks, len(rows))
    if edition != V221:
        return Response(b"", 200)
    return Response(orjson.dumps(requeue_id), 202, media_type=JSON)


def _status_rows(sb: Sandbox, key_prefix: str, rid: str, requeue_id: str | None) -> Response:
    found = [
        {
            "requeueId": qid,
            "percentComplete": round(100.0 * int(r["processed"]) / int(r["total"]), 1)
            if r["total"]
            else 100.0,
            "totalTransactions": r["total"],
            "processedTransactions": r["processed"],
            "status": r["status"],
        }
        for qid, r in sb.requeues.items()
        if str(r["key"]).startswith(key_prefix)
        and r["recipient"] == rid
        and (requeue_id in (None, qid))
    ]
    if not found:
        return Response(status_code=204)
    return Response(orjson.dumps(found), 200, media_type=JSON)


async def requeue_status(sb: Sandbox, edition: str, request: Request) -> Response:
    admitted = await admit(sb, request)
    if isinstance(admitted, Response):
        return admitted
    principal, _ = admitted
    iid, rid = request.path_params["interface_id"], request.path_params["recipient_id"]
    return _allowed(sb, principal, rid) or _status_rows(
        sb, f"pub:{iid}:", rid, request.query_params.get("requeue-id")
    )


def _select_statuses(sb: Sandbox, rid: str, sel: Selection) -> list[Any]:
    sql = ["SELECT id, body FROM status_messages WHERE recipient_dip_id = ?"]
    params: list[Any] = [rid]
    for clause, value in sel.status_filters():
        sql.append(clause)
        params.append(value)
    sql.append("ORDER BY id")
    return sb.store.query(" ".join(sql), params)


async def status_replay(sb: Sandbox, edition: str, request: Request) -> Response:
    checked = await _admit_selection(sb, request, parse_status_request)
    if isinstance(checked, Response):
        return checked
    body, rid, sel = checked
    await sb.store.flush()
    rows = await asyncio.to_thread(_select_statuses, sb, rid, sel)
    paged = _page(sb, edition, request, body, rows)
    if isinstance(paged, Response):
        return paged
    page, token = paged
    return _array([bytes(r["body"]) for r in page], token)


async def status_requeue(sb: Sandbox, edition: str, request: Request) -> Response:
    checked = await _admit_selection(sb, request, parse_status_request)
    if isinstance(checked, Response):
        return checked
    _body, rid, sel = checked
    key = f"status:{rid}"
    if _busy(sb, key):
        return Response(b"", 429)
    await sb.store.flush()
    rows = await asyncio.to_thread(_select_statuses, sb, rid, sel)
    size = sb.statuses.max_items
    callbacks = [
        Callback(
            kind=STATUS,
            recipient=rid,
            items=[bytes(r["body"]) for r in rows[i : i + size]],
            status_ids=[r["id"] for r in rows[i : i + size]],
        )
        for i in range(0, len(rows), size)
    ]
    requeue_id = _start_requeue(sb, key, rid, callbacks, len(rows))
    return Response(orjson.dumps(requeue_id), 202, media_type=JSON)


async def status_requeue_status(sb: Sandbox, edition: str, request: Request) -> Response:
    admitted = await admit(sb, request)
    if isinstance(admitted, Response):
        return admitted
    principal, _ = admitted
    rid = request.path_params["recipient_id"]
    return _allowed(sb, principal, rid) or _status_rows(
        sb, "status:", rid, request.query_params.get("requeue-id")
    )


def routes(sb: Sandbox, edition: str) -> list[BaseRoute]:
    def bind(fn: Any) -> Any:
        return functools.partial(fn, sb, edition)

    out: list[BaseRoute] = [
        Route("/dip-channel/{interface_id}/replay/{recipient_id}", bind(replay), methods=["POST"]),
        Route(
            "/dip-channel/{interface_id}/requeue/{recipient_id}", bind(requeue), methods=["POST"]
        ),
    ]
    if edition == V221:
        out += [
            Route(
                "/dip-channel/{interface_id}/requeueStatus/{recipient_id}",
                bind(requeue_status),
                methods=["GET"],
            ),
            Route("/statusmessage/replay/{recipient_id}", bind(status_replay), methods=["POST"]),
            Route("/statusmessage/requeue/{recipient_id}", bind(status_requeue), methods=["POST"]),
            Route(
                "/statusmessage/requeueStatus/{recipient_id}",
                bind(status_requeue_status),
                methods=["GET"],
            ),
        ]
    return out
