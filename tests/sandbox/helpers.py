"""Message builders and raw signed requests for the sandbox tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import httpx

from dip.client import encode_messages
from dip.samples import make_message
from dip.signing import SigningIdentity, sign_request

_rng = random.Random()
DCP = "3009012345"
ACME = "2309010001"
BRIGHTWATT = "1409010001"
GREENFIELD = "1409019001"  # simulated SDS, has not nominated the DCP
LDSO = "2509010001"
MDS = "1809010001"
OTHER_SUP = "2309019001"
MPAN = "2100000123459"
API_KEY = "test-dcp-key"
ADMIN = {"X-Admin-Token": "test-admin"}


def if021(
    n: int = 1, *, sender: str = BRIGHTWATT, mpan: str = MPAN, **kw: Any
) -> list[dict[str, Any]]:
    """IF-021 messages from Brightwatt (SDS) via the DCP; routed to Acme (SUP) by the MPAN."""
    return [
        make_message(
            "IF-021",
            sender_dip_id=sender,
            sender_role="SDS",
            dcp_dip_id=kw.pop("dcp", DCP),
            mpan_core=mpan,
            rng=random.Random(_rng.getrandbits(64)),
            environment=kw.pop("environment", "UIT"),
            periods=4,
            **kw,
        )
        for _ in range(n)
    ]


def post_signed(
    url: str,
    body: bytes,
    identity: SigningIdentity,
    *,
    api_key: str | None = API_KEY,
    now: datetime | None = None,
    tamper: bool = False,
) -> httpx.Response:
    headers = sign_request(
        method="POST", url=url, body=body, identity=identity, now=now or datetime.now(UTC)
    )
    headers["Content-Type"] = "application/json"
    if api_key is not None:
        headers["X-API-Key"] = api_key
    sent = body + b" " if tamper else body
    return httpx.post(url, content=sent, headers=headers, timeout=10)


def send(
    url: str, identity: SigningIdentity, messages: list[dict[str, Any]], channel: str = "IF-021"
) -> httpx.Response:
    return post_signed(f"{url}/dip-channel/{channel}", encode_messages(messages), identity)


def codes(response: httpx.Response) -> list[str]:
    return [i["message"].split(" ")[0] for i in response.json()["messageArray"]]
