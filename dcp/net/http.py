"""The httpx client for every URL we call on a tenant's or user's behalf (SSRF guard).

httpx sends through httpcore, whose ``NetworkBackend`` opens the TCP connections. Ours
(:class:`GuardedBackend`) resolves the host once, refuses the connection unless every address
passes :mod:`dcp.net.outbound`, connects to the checked address itself (no second lookup that a
rebinding DNS server could answer differently) and checks the socket's peer address again.
TLS still verifies the certificate against the URL's host name (httpcore passes it as SNI).
Environment proxies are ignored (``trust_env=False``): a proxy would connect for us, unchecked.

A refusal surfaces as ``httpx.ConnectError`` with the policy's reason, so callers that already
record connection failures (client endpoint pushes, alert webhooks) record it like any other.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from dcp.net import outbound
from dcp.net.outbound import OutboundRefused


class RefusedConnection(httpcore.ConnectError):
    """The outbound policy refused the address (httpx maps it to ``httpx.ConnectError``)."""


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = outbound.resolve(host, port)
            for address in addresses:
                outbound.check_address(host=host, port=port, address=address)
        except OutboundRefused as exc:
            raise RefusedConnection(f"refused by the outbound URL policy: {exc}") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            self._check_peer(stream, host=host, port=port)
            return stream
        assert failure is not None  # resolve() never returns an empty list
        raise failure

    @staticmethod
    def _check_peer(stream: httpcore.NetworkStream, *, host: str, port: int) -> None:
        sock = stream.get_extra_info("socket")
        if sock is None:
            return
        peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
        try:
            outbound.check_address(host=host, port=port, address=peer)
        except OutboundRefused as exc:
            stream.close()
            raise RefusedConnection(f"refused by the outbound URL policy: {exc}") from exc

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise RefusedConnection("refused by the outbound URL policy: no Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` on :class:`GuardedBackend`, refusing URLs the policy refuses."""

    def __init__(self, *, verify: bool = True, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=5)
        super().__init__(verify=verify, trust_env=False, limits=limits)
        # HTTPTransport takes no network backend: the same pool, built on ours, replaces its own.
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            outbound.parse_target(str(request.url))
        except OutboundRefused as exc:
            raise httpx.ConnectError(
                f"refused by the outbound URL policy: {exc}", request=request
            ) from exc
        return super().handle_request(request)


def guarded_client(*, timeout: float, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` that can only reach what the outbound URL policy allows."""
    return httpx.Client(transport=GuardedTransport(), timeout=timeout, trust_env=False, **kwargs)


def guarded_post(url: str, *, timeout: float, **kwargs: Any) -> httpx.Response:
    with guarded_client(timeout=timeout) as client:
        return client.post(url, **kwargs)
