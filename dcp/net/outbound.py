"""Outbound-URL policy: which URLs we may call on a tenant's or user's behalf (SSRF guard).

Every URL a tenant or user configures (client endpoints, alert-rule webhooks) is checked twice:

* at save time, :func:`check_url` parses the URL, resolves its host and refuses it with a
  ``ValidationError`` carrying a code (``url_scheme``, ``url_host``, ``url_private_address``)
  so the API answers 400 and the form shows the message (a name not in DNS yet is accepted:
  there is nothing to refuse, and the connection checks again);
* at connect time, :mod:`dcp.net.http` resolves again, refuses the connection unless every
  address passes :func:`address_refusal`, and connects to the checked address itself (a DNS
  answer that changed since the save — DNS rebinding — cannot slip through).

Refused: loopback, private (RFC 1918, ULA), link-local (169.254/16: cloud metadata), multicast,
reserved, unspecified, shared (100.64/10) and other non-global ranges, also when wrapped in
IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``, Teredo).
``OUTBOUND_URL_ALLOW`` lists the exceptions an operator makes on purpose (development, tests,
an internal relay): networks (``127.0.0.0/8``, ``::1``) or host names, each optionally with a
port (``127.0.0.1:9111``, ``[::1]:8080``, ``hooks.internal:443``) — but never the ports of our
own PostgreSQL, Redis and Celery broker on a non-public address, allow-listed or not.
``OUTBOUND_HTTPS_ONLY`` refuses plain http (on in production settings).

Not covered on purpose: the DIP and CA base URLs. The operator configures them in settings,
not a tenant, so they are not attacker-controlled (docs/security.md).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from dcp.errors import invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use prefix


class OutboundRefused(Exception):
    """A URL or address the policy refuses; ``code`` is the machine-readable reason."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class AllowRule:
    network: IPNetwork | None
    host: str | None  # a host name (lower case) instead of a network
    port: int | None  # None: any port

    def covers(self, *, host: str, port: int, address: IPAddress | None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host.lower().rstrip(".")
        return address is not None and self.network is not None and address in self.network


def parse_rule(entry: str) -> AllowRule:
    """``NETWORK``, ``IP:PORT``, ``[IPv6]:PORT``, ``HOST`` or ``HOST:PORT``."""
    text = entry.strip()
    port: int | None = None
    if text.startswith("["):
        inner, _, rest = text[1:].partition("]")
        text, port = inner, int(rest.removeprefix(":")) if rest else None
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        port = int(port_text)
    try:
        return AllowRule(ipaddress.ip_network(text, strict=False), None, port)
    except ValueError as exc:
        if not text or "/" in text:
            raise ValueError(
                f"OUTBOUND_URL_ALLOW: {entry!r} is neither a network nor a host"
            ) from exc
        return AllowRule(None, text.lower().rstrip("."), port)


@functools.lru_cache(maxsize=8)
def _rules(entries: tuple[str, ...]) -> tuple[AllowRule, ...]:
    return tuple(parse_rule(e) for e in entries if e.strip())


def allow_rules() -> tuple[AllowRule, ...]:
    return _rules(tuple(settings.OUTBOUND_URL_ALLOW))


def allowed_by_rule(*, host: str, port: int, address: IPAddress | None) -> bool:
    return any(r.covers(host=host, port=port, address=address) for r in allow_rules())


def _unwrap(address: IPAddress) -> tuple[IPAddress, str]:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), with the wrapper's name."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped, "IPv4-mapped "
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64 "
        if address.sixtofour is not None:
            return address.sixtofour, "6to4 "
    return address, ""


def address_refusal(address: IPAddress) -> str | None:
    """Why we never call ``address`` (a short phrase), or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return "local-use NAT64"
        if address.teredo is not None:
            return "Teredo tunnel"
    inner, wrapper = _unwrap(address)
    checks = (
        ("unspecified", inner.is_unspecified),
        ("loopback", inner.is_loopback),
        ("link-local", inner.is_link_local),
        ("multicast", inner.is_multicast),
        ("private", inner.is_private),
        ("reserved", inner.is_reserved),
        ("site-local", getattr(inner, "is_site_local", False)),
        ("not publicly routable", not inner.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{wrapper}{name}" if wrapper else name
    return None


def _port_of(url: object) -> int | None:
    try:
        return urlsplit(str(url)).port
    except ValueError:
        return None


def service_ports() -> frozenset[int]:
    """The ports of our own PostgreSQL, Redis cache and Celery broker/results."""
    ports = {int(db.get("PORT") or 5432) for db in settings.DATABASES.values()}
    locations: list[object] = [
        getattr(settings, "CELERY_BROKER_URL", ""),
        getattr(settings, "CELERY_RESULT_BACKEND", ""),
    ]
    for cache in settings.CACHES.values():
        location = cache.get("LOCATION", "")
        locations.extend(location if isinstance(location, list | tuple) else [location])
    ports.update(p for p in map(_port_of, locations) if p is not None)
    return frozenset(ports)


def check_address(*, host: str, port: int, address: IPAddress) -> None:
    """Raise :class:`OutboundRefused` unless we may connect to ``address`` for ``host``."""
    reason = address_refusal(address)
    if allowed_by_rule(host=host, port=port, address=address):
        if reason is None or port not in service_ports():
            return
        raise OutboundRefused(  # allow-listed, but our own database, cache or broker: never
            f"Port {port} of {address} is this platform's own database, cache or broker.",
            code="url_private_address",
        )
    if reason is not None:
        where = str(address) if host.strip("[]") == str(address) else f"{host} ({address})"
        raise OutboundRefused(
            f"{where}: {reason} address. Only public addresses can be called "
            "(exceptions: the OUTBOUND_URL_ALLOW setting).",
            code="url_private_address",
        )


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused(f"{host} does not resolve ({exc}).", code="url_unresolvable") from exc
    seen: dict[IPAddress, None] = {}
    for *_, sockaddr in infos:
        seen[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    if not seen:
        raise OutboundRefused(f"{host} does not resolve.", code="url_unresolvable")
    return list(seen)


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int


def parse_target(url: str) -> Target:
    """Scheme, host and port of ``url`` as we would call it; refuses what we never call."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"The URL is malformed ({exc}).", code="url_host") from exc
    scheme = parts.scheme.lower()
    schemes = ("https",) if settings.OUTBOUND_HTTPS_ONLY else ("https", "http")
    if scheme not in schemes:
        needed = "https://" if settings.OUTBOUND_HTTPS_ONLY else "https:// (or http://)"
        raise OutboundRefused(f"The URL must start with {needed}.", code="url_scheme")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused("The URL has no host.", code="url_host")
    return Target(scheme, host, port or (443 if scheme == "https" else 80))


def check_target(url: str) -> Target:
    """Save-time check: the URL's form and every address its host resolves to now."""
    target = parse_target(url)
    allowed_name = allowed_by_rule(host=target.host, port=target.port, address=None)
    if allowed_name and target.port not in service_ports():
        return target  # an allow-listed host name: the operator vouches for it
    try:
        addresses = resolve(target.host, target.port)
    except OutboundRefused:
        # Not in DNS (yet): nothing to refuse now. The endpoint may be set up later; every
        # connection resolves and checks again, so this lets nothing through.
        return target
    for address in addresses:
        check_address(host=target.host, port=target.port, address=address)
    return target


def check_url(url: str, *, field: str = "url") -> str:
    """The URL stripped, or a ``ValidationError`` (with ``code``) naming ``field``."""
    try:
        check_target(url)
    except OutboundRefused as exc:
        raise invalid(str(exc), code=exc.code, field=field) from exc
    return url.strip()


def validate_outbound_url(value: str) -> None:
    """A Django/DRF field validator (field-less ``ValidationError`` with the code)."""
    try:
        check_target(value)
    except OutboundRefused as exc:
        raise ValidationError(str(exc), code=exc.code) from exc
