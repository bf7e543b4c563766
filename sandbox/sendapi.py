"""Send API, status messages, webhook config and /validate (PROTOCOL.md §3, §4.1, §5.2, §7.1).

``POST /dip-channel/{interfaceId}``: levels 1-3 with :func:`dip.validation.validate_batch` on
the MSG side. The batch is accepted (**201**, one transaction ID per message) or rejected as a
whole (**400**, the first error per message) - §3.3. Level 3 (context) failures reject too:
wrong channel ``MSG1002``, wrong environment ``MSG1001``, role ``MSG1010``, DCP not nominated
or not the caller ``MSG1011``, unknown sender/recipients ``MSG1009``/``MSG1031``, duplicate
SUR ``MSG1006``, future sender timestamp ``MSG1007``. Routing problems (nobody to deliver to)
come later as L2 status messages. Nothing is acknowledged before it is committed.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dip.codes import CODES, Side
from dip.envelope import Message
from dip.errors import Finding, Level, Severity
from dip.responses import (
    DIP_SENDER_ID,
    StandardResponse,
    body_for,
    parse_status_messages,
    send_reply,
)
from dip.timeutil import now_timestamp
from dip.validation import ValidationContext, validate_batch
from sandbox.core import Sandbox
from sandbox.guard import JSON, DroppedResponse, admit, reject, standard
from sandbox.registry import Principal
from sandbox.routing import new_transaction_id


def _reply(reply_status: int, response: StandardResponse) -> Response:
    return Response(response.to_bytes(), reply_status, media_type=JSON)


async def send(sb: Sandbox, edition: str, request: Request) -> Response:
    admitted = await admit(sb, request)
    if isinstance(admitted, Response):
        return admitted
    principal, body = admitted
    iid = request.path_params["interface_id"]
    catalogue = sb.catalogue(edition)
    if catalogue.get(iid) is None:
        reject(sb, 400, "MSG1002", f"unknown channel {iid}", request, principal.dip_id)
        return standard(400, CODES["MSG1002"].text(), f"/dip-channel/{iid} is not a channel")
    now = datetime.now(UTC)
    surs = sb.surs
    ctx = ValidationContext(
        side=Side.MSG,
        spec_version=edition,
        max_level=Level.CONTEXT,
        environment=sb.registry.environment,
        channel_interface_id=iid,
        dcp_dip_id=principal.dip_id if _is_dcp(sb, principal) else None,
        now=now,
        is_nominated=sb.registry.is_nominated,
        is_known_dip_id=sb.registry.is_known,
        is_duplicate_sur=lambda sender, sur: (sender, sur) in surs,
    )
    report = validate_batch(body, ctx)
    if not _is_dcp(sb, principal):
        for r in report.results:
            if r.ok and r.message.sender_dip_id != principal.dip_id:
                msg = f"senderDIPID {r.message.sender_dip_id} is not the caller {principal.dip_id}"
                path = f"$[{r.index}].payload.CommonBlock.S1.senderDIPID"
                r.findings.append(
                    Finding("MSG1009", Severity.ERROR, path, msg, Level.CONTEXT, r.index)
                )
    txns: dict[int, str] = {}

    def transaction_id(m: Message) -> str:
        txns[m.index] = new_transaction_id(m, now)
        return txns[m.index]

    reply = send_reply(report, transaction_id=transaction_id, reject_level=Level.CONTEXT)
    if reply.status != 201:
        first = next((b for b in reply.response.messageArray if not b.is_success), None)
        reject(
            sb,
            reply.status,
            (first.code if first else None) or "MSG1000",
            (first.help or first.message or "") if first else "",
            request,
            principal.dip_id,
        )
        return _reply(reply.status, reply.response)
    messages = [r.message for r in report.results]
    effects = sb.faults.for_processing(principal.dip_id)
    if effects.reject:
        return _rejected_whole(sb, messages, effects.code, request, principal)
    for m in messages:
        surs.add((m.sender_dip_id or "", m.sender_unique_reference or ""))
    routed = sb.router.route(messages, [txns[m.index] for m in messages], catalogue, now=now)
    await sb.store.commit()
    sb.router.dispatch(routed)
    if effects.drop_after:
        return DroppedResponse()  # processed and committed: the answer is lost
    return _reply(201, reply.response)


def _rejected_whole(
    sb: Sandbox, messages: list[Message], code: str | None, request: Request, who: Principal
) -> Response:
    """The ``reject_batch`` fault: the whole batch refused (L1 is all-or-nothing), one item
    with ``code`` if given, every other item with the generic MSG1000."""
    now = now_timestamp()
    culprit = sb.faults.pick(len(messages)) if code else -1
    bodies = []
    for n, m in enumerate(messages):
        if n == culprit and code:
            text = CODES[code].text() if code in CODES else f"{code} - Fault injected"
            bodies.append(body_for(m, sender_id=DIP_SENDER_ID, text=text, help="fault", now=now))
        else:
            text = CODES["MSG1000"].text()
            bodies.append(body_for(m, sender_id=DIP_SENDER_ID, text=text, now=now))
    reject(sb, 400, code or "MSG1000", "reject_batch fault", request, who.dip_id)
    return _reply(400, StandardResponse(tuple(bodies), now))


def _is_dcp(sb: Sandbox, principal: Principal) -> bool:
    entry = sb.registry.get(principal.dip_id)
    return entry is not None and entry.is_dcp


async def status_message(sb: Sandbox, edition: str, request: Request) -> Response:
    """``POST /statusmessage``: L4 outcomes from a recipient, relayed to the original sender."""
    admitted = await admit(sb, request)
    if isinstance(admitted, Response):
        return admitted
    principal, body = admitted
    bodies, findings = parse_status_messages(body)
    if findings:
        f = findings[0]
        return standard(400, f"{f.code} - {CODES[f.code].meaning}", f"{f.path}: {f.message}")
    now = now_timestamp()
    out = []
    problem = None
    for b in bodies:
        if not sb.registry.may_act_for(principal, b.senderID):
            problem = problem or (
                "MSG1009",
                f"senderID {b.senderID} is not {principal.dip_id} or nominated it",
            )
        elif not b.recipientID or not sb.registry.is_known(b.recipientID):
            problem = problem or ("MSG1030", f"recipientID {b.recipientID!r} is not a known DIP ID")
    for b in bodies:
        text = CODES[problem[0]].text() if problem else CODES["MSG0000"].text()
        item = body_for(
            None, sender_id=DIP_SENDER_ID, text=text, help=problem[1] if problem else None, now=now
        )
        out.append(_echo(item, b))
    if problem:
        return _reply(400, StandardResponse(tuple(out), now))
    sb.statuses.emit("L4", bodies)
    await sb.store.commit()
    return _reply(201, StandardResponse(tuple(out), now))


def _echo(item: Any, b: Any) -> Any:
    d = item.to_dict()
    d.update(
        transactionID=b.transactionID,
        senderUniqueReference=b.senderUniqueReference,
        correlationID=b.correlationID,
        recipientID=b.senderID,
    )
    return type(item).from_dict(d)


def _webhook_config(body: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, "body is not JSON"
    if not isinstance(data, dict) or not isinstance(data.get("callbackURL"), str):
        return None, "WebhookConfig needs a callbackURL string"
    url = data["callbackURL"]
    if not url.lower().startswith(("http://", "https://")) or len(url) > 2000:
        return None, "callbackURL must be an http(s) URL"
    extra = set(data) - {"callbackURL", "maxMessageCount", "maxPayloadSize"}
    if extra:
        return None, f"unknown WebhookConfig keys {sorted(extra)}"
    return data, ""


async def pubconfig(sb: Sandbox, edition: str, request: Request) -> Response:
    admitted = await admit(sb, request)
    if isinstance(admitted, Response):
        return admitted
    principal, body = admitted
    iid, rid = request.path_params["interface_id"], request.path_params["recipient_id"]
    if sb.catalogue(edition).get(iid) is None:
        return standard(400, CODES["MSG1002"].text(), f"{iid} is not a channel")
    entry = sb.registry.get(rid)
    if entry is None or not sb.registry.may_act_for(principal, rid):
        return standard(403, CODES["MSG1009"].text(), f"{principal.dip_id} may not configure {rid}")
    if request.method == "DELETE":
        entry.webhooks.pop(iid, None)
        entry.webhook_limits.pop(iid, None)
        return Response(status_code=204)
    config, problem = _webhook_config(body)
    if config is None:
        return standard(400, CODES["MSG1001"].text(), problem)
    entry.webhooks[iid] = config["callbackURL"]
    if isinstance(config.get("maxMessageCount"), int) and config["maxMessageCount"] > 0:
        entry.webhook_limits[iid] = config["maxMessageCount"]
    return standard(
        201, CODES["MSG0000"].text(), f"{iid} publications for {rid} -> {config['callbackURL']}"
    )


async def status_config(sb: Sandbox, edition: str, request: Request) -> Response:
    admitted = await admit(sb, request)
    if isinstance(admitted, Response):
        return admitted
    principal, body = admitted
    rid = request.path_params["recipient_id"]
    entry = sb.registry.get(rid)
    if entry is None or not sb.registry.may_act_for(principal, rid):
        return standard(403, CODES["MSG1009"].text(), f"{principal.dip_id} may not configure {rid}")
    if request.method == "DELETE":
        entry.status_webhook = None
        return Response(status_code=204)
    config, problem = _webhook_config(body)
    if config is None:
        return standard(400, CODES["MSG1001"].text(), problem)
    entry.status_webhook = config["callbackURL"]
    return standard(
        201, CODES["MSG0000"].text(), f"status messages for {rid} -> {entry.status_webhook}"
    )


async def validate(sb: Sandbox, edition: str, request: Request) -> Response:
    """``POST /validate/{IF}/{EventName}``: debug validation, API key only, plain-text replies."""
    if sb.registry.principal_for_key(request.headers.get("X-API-Key")) is None:
        return Response("Unauthorised", 401, media_type="text/plain")
    iid, event = request.path_params["interface_id"], request.path_params["event"]
    ctx = ValidationContext(side=Side.MSG, spec_version=edition, max_level=Level.SCHEMA)
    report = validate_batch(await request.body(), ctx)
    errors = [f for f in report.findings if f.is_error]
    for r in report.results:
        if not errors and (r.message.interface_id != iid or r.message.event_code != f"[{event}]"):
            errors.append(
                Finding(
                    "MSG1002",
                    Severity.ERROR,
                    f"$[{r.index}]",
                    f"not an {iid} [{event}] message",
                    Level.SCHEMA,
                )
            )
    if errors:
        return Response(f"{errors[0].as_text()} ({errors[0].path})", 400, media_type="text/plain")
    return Response("Message OK", 201, media_type="text/plain")


def routes(sb: Sandbox, edition: str) -> list[BaseRoute]:
    def bind(fn: Any) -> Any:
        return functools.partial(fn, sb, edition)

    return [
        Route("/dip-channel/{interface_id}", bind(send), methods=["POST"]),
        Route(
            "/dip-channel/{interface_id}/pubconfig/{recipient_id}",
            bind(pubconfig),
            methods=["POST", "DELETE"],
        ),
        Route("/statusmessage", bind(status_message), methods=["POST"]),
        Route(
            "/statusmessage/config/{recipient_id}", bind(status_config), methods=["POST", "DELETE"]
        ),
        Route("/validate/{interface_id}/{event}", bind(validate), methods=["POST"]),
    ]
