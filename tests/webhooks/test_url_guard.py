"""The webhook URL guard: no calls into the platform's own network unless allow-listed.

No test here sends traffic: literal IPs need no DNS, and host names are answered by a
patched resolver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

from openfal.webhooks import (
    UrlGuard,
    WebhookUrlRefused,
    check_webhook_url,
    check_webhook_url_async,
)
from openfal.webhooks.delivery import WebhookUrlUnresolvable

REFUSED = [
    ("http://10.0.0.1", "10.0.0.1 is private"),
    ("http://192.168.1.20:8080/hook", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://127.0.0.1", "127.0.0.1 is loopback"),
    ("http://127.1/", "loopback"),  # resolves (no DNS) to 127.0.0.1
    ("http://[::1]", "::1 is loopback"),
    ("http://[::1]:9000/x", "loopback"),
    ("http://169.254.169.254/latest", "169.254.169.254 is the cloud metadata address"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fc00::1]/", "private"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://100.64.0.1/", "not globally routable"),
    ("http://[::ffff:127.0.0.1]", "embeds 127.0.0.1, which is loopback"),
    ("http://[::ffff:169.254.169.254]/", "metadata"),
    ("http://[::ffff:10.1.2.3]/", "embeds 10.1.2.3, which is private"),
    ("http://[2002:a00:1::]/", "embeds 10.0.0.1"),  # 6to4
    ("http://[64:ff9b::7f00:1]/", "embeds 127.0.0.1"),  # NAT64
    ("ftp://x", "scheme 'ftp' is not http or https"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://127.0.0.1/", "scheme 'gopher'"),
    ("//93.184.216.34/", "scheme 'none'"),
    ("http:///path", "no host"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refused(url: str, reason: str) -> None:
    with pytest.raises(WebhookUrlRefused, match="webhook URL refused") as info:
        check_webhook_url(url)
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_refused_async(url: str, reason: str) -> None:
    with pytest.raises(WebhookUrlRefused) as info:
        await check_webhook_url_async(url)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/",
        "https://93.184.216.34:8443/hooks?a=1",
        "http://[2606:2800:220:1:248:1893:25c8:1946]/",
    ],
)
async def test_public_literal_accepted(url: str) -> None:
    # Checked only: nothing is sent to these addresses.
    target = check_webhook_url(url)
    assert target.addresses == (ipaddress.ip_address(target.host),)
    assert await check_webhook_url_async(url) == target


def test_target_carries_host_and_default_port() -> None:
    assert check_webhook_url("https://93.184.216.34/x").port == 443
    assert check_webhook_url("http://93.184.216.34/x").port == 80
    assert check_webhook_url("http://93.184.216.34:81/x").port == 81


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1:8080/hook", ["127.0.0.1"]),
        ("http://10.1.2.3/", ["10.0.0.0/8"]),
        ("http://[::1]:9000/", ["::1"]),
        ("http://[::1]:9000/", ["[::1]"]),
        ("http://[::ffff:127.0.0.1]/", ["127.0.0.0/8"]),
        ("http://192.168.0.5/", [" 192.168.0.0/16 ", ""]),
    ],
)
def test_allow_listed_addresses_accepted(url: str, allow: list[str]) -> None:
    check_webhook_url(url, allow=allow)


def test_allow_list_is_specific() -> None:
    with pytest.raises(WebhookUrlRefused, match=r"10\.0\.0\.1 is private"):
        check_webhook_url("http://10.0.0.1/", allow=["127.0.0.1", "10.1.0.0/16"])
    with pytest.raises(WebhookUrlRefused, match="metadata"):
        check_webhook_url("http://169.254.169.254/", allow=["10.0.0.0/8", "hooks.internal"])


# --- host names (patched resolver) -------------------------------------------------------------


def _infos(addresses: list[str], port: Any) -> list[tuple[Any, ...]]:
    return [
        (
            socket.AF_INET6 if ":" in a else socket.AF_INET,
            socket.SOCK_STREAM,
            6,
            "",
            (a, port, 0, 0) if ":" in a else (a, port),
        )
        for a in addresses
    ]


ANSWERS = {
    "public.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "hooks.internal": ["10.0.0.5"],
    "mixed.test": ["93.184.216.34", "192.168.1.1"],
    "metadata.test": ["169.254.169.254"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "scoped.test": ["fe80::1%eth0"],
    "xn--bcher-kva.test": ["93.184.216.34"],
}


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch the resolvers; returns the lookups, each as "blocking:NAME" or "loop:NAME"."""
    looked_up: list[str] = []

    def answer(host: str, port: Any) -> list[tuple[Any, ...]]:
        host = host.rstrip(".")  # "name." is the same (fully qualified) name
        if host not in ANSWERS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return _infos(ANSWERS[host], port)

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        looked_up.append(f"blocking:{host}")
        return answer(host, port)

    async def loop_getaddrinfo(
        self: asyncio.AbstractEventLoop, host: str, port: Any, **kwargs: Any
    ) -> list[tuple[Any, ...]]:
        looked_up.append(f"loop:{host}")
        return answer(host, port)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", loop_getaddrinfo)
    return looked_up


async def test_public_host_accepted_with_all_addresses(dns: list[str]) -> None:
    target = await check_webhook_url_async("https://public.test/hook")
    assert [str(a) for a in target.addresses] == ANSWERS["public.test"]
    assert target.host == "public.test"
    assert check_webhook_url("https://public.test/hook") == target
    # The async check resolves through the event loop, never with blocking DNS.
    assert dns == ["loop:public.test", "blocking:public.test"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.internal/", "hooks.internal resolves to 10.0.0.5, which is private"),
        ("http://mixed.test/", "mixed.test resolves to 192.168.1.1, which is private"),
        ("http://metadata.test/", "which is the cloud metadata address"),
        ("http://mapped.test/", "which embeds 127.0.0.1, which is loopback"),
        ("http://scoped.test/", "link-local"),
    ],
)
async def test_host_resolving_to_forbidden_address_refused(
    dns: list[str], url: str, reason: str
) -> None:
    for check in (check_webhook_url, check_webhook_url_async):
        with pytest.raises(WebhookUrlRefused) as info:
            result = check(url)
            if asyncio.iscoroutine(result):
                await result
        assert reason in str(info.value)


async def test_allow_listed_host_accepted(dns: list[str]) -> None:
    target = await check_webhook_url_async("http://hooks.internal:8000/", allow=["hooks.internal"])
    assert [str(a) for a in target.addresses] == ["10.0.0.5"]
    check_webhook_url("http://HOOKS.internal./", allow=["Hooks.Internal"])


async def test_allow_listed_network_for_host(dns: list[str]) -> None:
    await check_webhook_url_async("http://hooks.internal/", allow=["10.0.0.0/24"])
    with pytest.raises(WebhookUrlRefused, match=r"192\.168\.1\.1"):
        await check_webhook_url_async("http://mixed.test/", allow=["10.0.0.0/24"])


async def test_unresolvable_host_refused(dns: list[str]) -> None:
    with pytest.raises(WebhookUrlUnresolvable, match=r"cannot resolve nowhere\.test"):
        await check_webhook_url_async("http://nowhere.test/")
    with pytest.raises(WebhookUrlRefused, match=r"cannot resolve nowhere\.test"):
        check_webhook_url("http://nowhere.test/")


async def test_unicode_host_is_resolved_in_idna_form(dns: list[str]) -> None:
    await check_webhook_url_async("http://bücher.test/")
    assert dns == ["loop:xn--bcher-kva.test"]


def test_literal_ips_need_no_dns(dns: list[str]) -> None:
    check_webhook_url("http://93.184.216.34/")
    check_webhook_url("http://127.0.0.1/", allow=["127.0.0.1"])
    assert dns == []


def test_guard_repr() -> None:
    assert repr(UrlGuard(["b.test", "10.0.0.0/8", "a.test"])) == (
        "UrlGuard(allow=['a.test', 'b.test', '10.0.0.0/8'])"
    )
