"""Refuse URLs that would reach the platform's own network (SSRF), for every caller.

Webhooks (``openfal.webhooks``) and URL inputs of apps (``openfal.toolkit``) vet a URL
the same way: http(s) only, and every address its host resolves to must be public, unless
an operator allowed the host, address or network. A neutral module: it imports nothing of
openfal but the error root, so both layers can use it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from openfal.errors import OpenfalError

__all__ = ["UrlGuard", "UrlRefused", "UrlTarget", "UrlUnresolvable"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


_METADATA_ADDRESS = ipaddress.ip_address("169.254.169.254")
_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlRefused(OpenfalError, ValueError):
    """A URL the platform will not call; ``reason`` names why."""

    status_code = 400
    error_type = "url_refused"
    label = "URL"

    def __init__(self, reason: str) -> None:
        super().__init__(f"{self.label} refused: {reason}")
        self.reason = reason


class UrlUnresolvable(UrlRefused):
    """The URL's host did not resolve (now): refused, though it may work later."""


@dataclass(frozen=True)
class UrlTarget:
    """A vetted URL: its host, port and the addresses that may be connected to."""

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


class UrlGuard:
    """Refuses URLs that would reach the platform's own network (SSRF).

    A URL must be http(s), and every address its host resolves to must be public:
    not private, loopback, link-local (the 169.254.169.254 metadata service among
    them), multicast, reserved, unspecified or otherwise not globally routable,
    including IPv4 addresses embedded in IPv6 ones (IPv4-mapped, 6to4, Teredo, NAT64).

    ``allow`` lifts this for hosts (``hooks.internal``), addresses (``127.0.0.1``) or
    networks (``10.0.0.0/8``): for self-hosted setups whose receivers are internal.
    """

    refused_error: type[UrlRefused] = UrlRefused
    unresolvable_error: type[UrlUnresolvable] = UrlUnresolvable

    def __init__(self, allow: Iterable[str] = ()) -> None:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in allow:
            entry = entry.strip().removeprefix("[").removesuffix("]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(_normalise_host(entry))
        self.allowed_hosts = frozenset(hosts)
        self.allowed_networks = tuple(networks)

    def __repr__(self) -> str:
        allowed = sorted(self.allowed_hosts) + [str(n) for n in self.allowed_networks]
        return f"UrlGuard(allow={allowed!r})"

    def check(self, url: str) -> UrlTarget:
        """Vet ``url``, resolving its host with blocking DNS; raise ``UrlRefused``."""
        try:
            parsed, host, port = _parse(url)
            return self._vet(parsed, host, port, _resolve_blocking(parsed, port))
        except UrlRefused as e:
            raise self._own(e) from e.__cause__

    async def check_async(self, url: str) -> UrlTarget:
        """Like ``check``, resolving through the event loop so that it does not block."""
        try:
            parsed, host, port = _parse(url)
            return self._vet(parsed, host, port, await _resolve(parsed, port))
        except UrlRefused as e:
            raise self._own(e) from e.__cause__

    def _own(self, e: UrlRefused) -> UrlRefused:
        """``e`` as this guard's error class (a subclass words its message its way)."""
        if isinstance(e, UrlUnresolvable):
            return self.unresolvable_error(e.reason)
        return self.refused_error(e.reason)

    def _vet(
        self, url: httpx.URL, host: str, port: int, addresses: Sequence[IPAddress]
    ) -> UrlTarget:
        host_allowed = _normalise_host(host) in self.allowed_hosts
        for address in addresses:
            reason = None if host_allowed else self._refusal(address)
            if reason is not None:
                where = str(address) if _literal(host) else f"{host} resolves to {address}, which"
                raise UrlRefused(f"{where} {reason}")
        unique = tuple(dict.fromkeys(addresses))  # getaddrinfo repeats per socket type
        return UrlTarget(url, host, port, unique)

    def _refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be called, or None if it may."""
        embedded = _embedded_ipv4(address)
        if any(a in net for a in (address, embedded) if a for net in self.allowed_networks):
            return None
        if embedded is not None:
            reason = _forbidden_reason(embedded)
            return None if reason is None else f"embeds {embedded}, which {reason}"
        return _forbidden_reason(address)


def _forbidden_reason(address: IPAddress) -> str | None:
    # Most specific first, so that the message names the real problem.
    if address == _METADATA_ADDRESS:
        return "is the cloud metadata address"
    checks = (
        ("is_unspecified", "is unspecified"),
        ("is_loopback", "is loopback"),
        ("is_link_local", "is link-local"),
        ("is_multicast", "is multicast"),
        ("is_reserved", "is reserved"),
        ("is_private", "is private"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if not address.is_global:  # e.g. 100.64.0.0/10, shared carrier-grade NAT space
        return "is not globally routable"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, where packets to it would go there."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): packets go to the client
    if address in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _parse(url: str) -> tuple[httpx.URL, str, int]:
    # httpx's own parser: the URL vetted must be the URL the client will call.
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UrlRefused(f"not a valid URL ({exc})") from exc
    if parsed.scheme not in _DEFAULT_PORTS:
        shown = parsed.scheme or "none"
        raise UrlRefused(f"scheme {shown!r} is not http or https")
    if not parsed.host:
        raise UrlRefused("no host")
    return parsed, parsed.host, parsed.port or _DEFAULT_PORTS[parsed.scheme]


def _normalise_host(host: str) -> str:
    return host.lower().rstrip(".")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(url: httpx.URL, port: int) -> list[IPAddress]:
    literal = _literal(url.host)
    if literal is not None:  # no DNS needed, nor wanted
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(_dns_name(url), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _unresolvable(url, exc) from exc
    return _addresses(url.host, infos)


def _resolve_blocking(url: httpx.URL, port: int) -> list[IPAddress]:
    literal = _literal(url.host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(_dns_name(url), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _unresolvable(url, exc) from exc
    return _addresses(url.host, infos)


def _dns_name(url: httpx.URL) -> str:
    # url.host is the decoded (Unicode) name; DNS wants the ASCII (IDNA) form.
    return url.raw_host.decode("ascii")


def _unresolvable(url: httpx.URL, exc: Exception) -> UrlUnresolvable:
    return UrlUnresolvable(f"cannot resolve {url.host}: {exc}")


def _addresses(host: str, infos: Sequence[tuple[Any, ...]]) -> list[IPAddress]:
    # sockaddr[0] is the address; IPv6 scope ids ("%eth0") are dropped with it.
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise UrlUnresolvable(f"{host} has no addresses")
    return addresses
