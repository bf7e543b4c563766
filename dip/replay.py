"""Replay and requeue API clients (PROTOCOL.md §6) for spec v2.1.0 and v2.2.1.

* **Replay** pulls publications already delivered to a DIP ID back in the response body.
* **Requeue** asks the DIP to push them to the registered webhook again.

v2.1.0 (:class:`ReplayClientV210`): one synchronous 200 per request; a request may name at
most 100 transaction IDs, so longer lists are split into chunks of 100 automatically.
v2.2.1 (:class:`ReplayClientV221`): replay pages with ``X-Continuation-Token`` (206 = more, 200
= done); requeue is asynchronous (202 + requeue ID, 429 while one is running) and is polled via
``requeueStatus``; status messages get their own replay/requeue endpoints.

Both sit on a :class:`~dip.client.DipClient`, so every call is signed, uses mTLS and retries
transient failures. A call that ends in anything but success raises :class:`ReplayError`
carrying the last :class:`~dip.client.SendResult`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dip.backoff import NO_RETRY
from dip.client import DipClient, Outcome, SendResult, path_segment
from dip.errors import DipError

MAX_TRANSACTION_IDS = 100
CONTINUATION_TOKEN = "X-Continuation-Token"
Timestamp = str | datetime | None


class ReplayError(DipError):
    """A replay/requeue call failed; ``result`` is the DIP's (or the transport's) answer."""

    def __init__(self, message: str, result: SendResult) -> None:
        super().__init__(message, code=_first_code(result) or "MSG1000")
        self.result = result


class RequeueBusy(ReplayError):
    """429 on a v2.2.1 requeue: one is already running — poll it instead of resubmitting."""


def format_timestamp(value: Timestamp) -> str | None:
    """DT-003: exactly 25 characters, ``YYYY-MM-DDThh:mm:ss+00:00`` (UTC)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class MessageRequest:
    """``MessageRequest`` body: every filter is nullable; ``None`` means "do not filter"."""

    datetime_from: Timestamp = None
    datetime_to: Timestamp = None
    event_code: str | None = None  # bracketed, e.g. "[ActivePower]"
    mpan: str | None = None
    version: str | None = None  # schema version, e.g. "011"
    transaction_ids: tuple[str, ...] = ()

    def chunks(self) -> Iterator[MessageRequest]:
        """This request split so none names more than 100 transaction IDs."""
        ids = self.transaction_ids
        if len(ids) <= MAX_TRANSACTION_IDS:
            yield self
            return
        for start in range(0, len(ids), MAX_TRANSACTION_IDS):
            yield _replace_ids(self, ids[start : start + MAX_TRANSACTION_IDS])

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "datetimeFrom": format_timestamp(self.datetime_from),
            "datetimeTo": format_timestamp(self.datetime_to),
            "eventCode": self.event_code,
            "MPAN": self.mpan,
            "version": self.version,
        }
        if self.transaction_ids:
            body["transactionIDs"] = list(self.transaction_ids)
        return _dump(body)


def _replace_ids(request: MessageRequest, ids: tuple[str, ...]) -> MessageRequest:
    return MessageRequest(
        request.datetime_from,
        request.datetime_to,
        request.event_code,
        request.mpan,
        request.version,
        ids,
    )


@dataclass(frozen=True)
class StatusMessageRequest:
    """v2.2.1 ``StatusMessageRequest``: a required time window plus optional filters."""

    datetime_from: str | datetime
    datetime_to: str | datetime
    transaction_id: str | None = None
    sender_unique_reference: str | None = None
    correlation_id: str | None = None

    def to_json(self) -> bytes:
        return _dump(
            {
                "datetimeFrom": format_timestamp(self.datetime_from),
                "datetimeTo": format_timestamp(self.datetime_to),
                "transactionID": self.transaction_id,
                "senderUniqueReference": self.sender_unique_reference,
                "correlationID": self.correlation_id,
            }
        )


@dataclass(frozen=True)
class ReplayResult:
    """Replayed items (raw JSON objects, in DIP order) and the HTTP exchanges that made it."""

    messages: tuple[Any, ...]
    responses: tuple[SendResult, ...] = field(default=())

    @property
    def requests(self) -> int:
        return len(self.responses)


class RequeueState(StrEnum):
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    PARTIAL_COMPLETION = "PartialCompletion"


FINAL_STATES = frozenset(
    {RequeueState.COMPLETED, RequeueState.FAILED, RequeueState.PARTIAL_COMPLETION}
)


@dataclass(frozen=True)
class RequeueStatus:
    requeue_id: str | None
    percent_complete: float
    total_transactions: float
    processed_transactions: float
    status: RequeueState | str  # unknown future values are kept as text

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATES

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> RequeueStatus:
        raw = str(item.get("status"))
        status: RequeueState | str = (
            RequeueState(raw) if raw in RequeueState._value2member_map_ else raw
        )
        return cls(
            requeue_id=item.get("requeueId"),
            percent_complete=float(item.get("percentComplete") or 0),
            total_transactions=float(item.get("totalTransactions") or 0),
            processed_transactions=float(item.get("processedTransactions") or 0),
            status=status,
        )


class ReplayClientV210:
    """Replay/requeue as in spec v2.1.0 (§6.1)."""

    def __init__(self, client: DipClient) -> None:
        self.client = client

    def replay(self, interface_id: str, recipient_id: str, request: MessageRequest) -> ReplayResult:
        path = _channel_path(interface_id, "replay", recipient_id)
        messages: list[Any] = []
        responses: list[SendResult] = []
        for chunk in request.chunks():
            result = self.client.request("POST", path, body=chunk.to_json())
            responses.append(result)
            _ensure(result, "replay", {200})
            messages.extend(_json_array(result))
        return ReplayResult(tuple(messages), tuple(responses))

    def requeue(
        self, interface_id: str, recipient_id: str, request: MessageRequest
    ) -> list[SendResult]:
        path = _channel_path(interface_id, "requeue", recipient_id)
        results: list[SendResult] = []
        for chunk in request.chunks():
            result = self.client.request("POST", path, body=chunk.to_json())
            results.append(result)
            _ensure(result, "requeue", {200})
        return results


class ReplayClientV221:
    """Replay/requeue as in spec v2.2.1 (§6.2): paging, async requeue, status messages."""

    def __init__(
        self,
        client: DipClient,
        *,
        max_pages: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.max_pages = max_pages
        self._sleep = sleep
        self._monotonic = monotonic

    # -- publications --------------------------------------------------------------------------

    def replay(self, interface_id: str, recipient_id: str, request: MessageRequest) -> ReplayResult:
        path = _channel_path(interface_id, "replay", recipient_id)
        messages: list[Any] = []
        responses: list[SendResult] = []
        for chunk in request.chunks():
            self._paged(path, chunk.to_json(), messages, responses)
        return ReplayResult(tuple(messages), tuple(responses))

    def requeue(self, interface_id: str, recipient_id: str, request: MessageRequest) -> list[str]:
        """Start requeue(s); returns the requeue ID of each (one per 100-ID chunk)."""
        path = _channel_path(interface_id, "requeue", recipient_id)
        return [self._start_requeue(path, chunk.to_json()) for chunk in request.chunks()]

    def requeue_status(
        self, interface_id: str, recipient_id: str, requeue_id: str | None = None
    ) -> list[RequeueStatus]:
        path = _channel_path(interface_id, "requeueStatus", recipient_id)
        return self._status(path, requeue_id)

    def wait_for_requeue(
        self,
        interface_id: str,
        recipient_id: str,
        requeue_id: str,
        *,
        poll_interval: float = 5.0,
        max_interval: float = 60.0,
        timeout: float = 3600.0,
    ) -> RequeueStatus:
        """Poll until the requeue finishes (Completed, Failed or PartialCompletion)."""
        return self._wait(
            lambda: self.requeue_status(interface_id, recipient_id, requeue_id),
            requeue_id,
            poll_interval,
            max_interval,
            timeout,
        )

    # -- status messages -----------------------------------------------------------------------

    def replay_status_messages(
        self, recipient_id: str, request: StatusMessageRequest
    ) -> ReplayResult:
        messages: list[Any] = []
        responses: list[SendResult] = []
        path = f"/statusmessage/replay/{path_segment(recipient_id)}"
        self._paged(path, request.to_json(), messages, responses)
        return ReplayResult(tuple(messages), tuple(responses))

    def requeue_status_messages(self, recipient_id: str, request: StatusMessageRequest) -> str:
        path = f"/statusmessage/requeue/{path_segment(recipient_id)}"
        return self._start_requeue(path, request.to_json())

    def status_message_requeue_status(
        self, recipient_id: str, requeue_id: str | None = None
    ) -> list[RequeueStatus]:
        path = f"/statusmessage/requeueStatus/{path_segment(recipient_id)}"
        return self._status(path, requeue_id)

    # -- shared --------------------------------------------------------------------------------

    def _paged(
        self, path: str, body: bytes, messages: list[Any], responses: list[SendResult]
    ) -> None:
        token: str | None = None
        for _ in range(self.max_pages):
            headers = {CONTINUATION_TOKEN: token} if token else None
            result = self.client.request("POST", path, body=body, headers=headers)
            responses.append(result)
            _ensure(result, "replay", {200, 206})
            messages.extend(_json_array(result))
            if result.status_code == 200:
                return
            token = result.headers.get(CONTINUATION_TOKEN)
            if not token:
                raise ReplayError(f"206 without {CONTINUATION_TOKEN} from {path}", result)
        raise ReplayError(f"replay from {path} exceeded {self.max_pages} pages", responses[-1])

    def _start_requeue(self, path: str, body: bytes) -> str:
        result = self.client.request("POST", path, body=body, retry=NO_RETRY)
        if result.status_code == 429:
            raise RequeueBusy(f"a requeue is already running for {path}; poll its status", result)
        _ensure(result, "requeue", {202})
        try:
            requeue_id = json.loads(result.content)
        except ValueError:
            requeue_id = None
        if not isinstance(requeue_id, str) or not requeue_id:
            raise ReplayError("202 without a RequeueId string body", result)
        return requeue_id

    def _status(self, path: str, requeue_id: str | None) -> list[RequeueStatus]:
        params = {"requeue-id": requeue_id} if requeue_id else None
        result = self.client.request("GET", path, params=params)
        if result.status_code == 204:
            return []
        _ensure(result, "requeue status", {200})
        return [RequeueStatus.from_json(i) for i in _json_array(result) if isinstance(i, dict)]

    def _wait(
        self,
        poll: Callable[[], Sequence[RequeueStatus]],
        requeue_id: str,
        interval: float,
        max_interval: float,
        timeout: float,
    ) -> RequeueStatus:
        deadline = self._monotonic() + timeout
        last: RequeueStatus | None = None
        while True:
            statuses = poll()
            mine = [s for s in statuses if s.requeue_id in (requeue_id, None)]
            if mine:
                last = mine[0]
                if last.finished:
                    return last
            elif statuses == [] and last is not None:
                return last  # 204: nothing outstanding any more
            if self._monotonic() + interval > deadline:
                raise TimeoutError(
                    f"requeue {requeue_id} not finished after {timeout:.0f}s "
                    f"(last: {last.status if last else 'unknown'})"
                )
            self._sleep(interval)
            interval = min(max_interval, interval * 2)


def _channel_path(interface_id: str, operation: str, recipient_id: str) -> str:
    return f"/dip-channel/{path_segment(interface_id)}/{operation}/{path_segment(recipient_id)}"


def _ensure(result: SendResult, what: str, statuses: set[int]) -> None:
    if result.outcome is Outcome.ACCEPTED and result.status_code in statuses:
        return
    detail = result.error or f"HTTP {result.status_code}"
    codes = ", ".join(result.codes)
    raise ReplayError(f"{what} failed: {detail}{f' ({codes})' if codes else ''}", result)


def _json_array(result: SendResult) -> list[Any]:
    if not result.content:
        return []
    try:
        data = json.loads(result.content)
    except ValueError as exc:
        raise ReplayError("response body is not JSON", result) from exc
    if not isinstance(data, list):
        raise ReplayError("response body is not a JSON array", result)
    return data


def _first_code(result: SendResult) -> str | None:
    codes = result.codes
    return codes[0] if codes else None


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode("ascii")
