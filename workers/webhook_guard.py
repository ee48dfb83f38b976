"""Where webhooks may go. A webhook URL is untrusted input: unchecked, a client could make the server POST to
itself or to its private network (SSRF). Only http(s) URLs whose host resolves to public addresses pass,
unless an operator names trusted hosts or networks (webhook_allowed_hosts) or allows every non-public
address (webhook_allow_private).

The URL is checked when a job is submitted (a 422) and again at each delivery, since a name may resolve
differently later. A delivery then connects to the very address that was checked, so a DNS answer that
changes between the check and the connection cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

import httpx

from core.errors import InputError
from core.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("http", "https")
NOT_ALLOWED = "webhook_url_not_allowed"
UNRESOLVED = "webhook_host_unresolved"
HOW_TO_ALLOW = (
    "webhooks go only to public addresses; an operator can allow this one by listing the host (or its network) "
    "in AVATAR_WEBHOOK_ALLOWED_HOSTS, or every non-public address with AVATAR_WEBHOOK_ALLOW_PRIVATE=true"
)


class WebhookURLError(InputError):
    """A webhook URL the server will not call. `final` is False when only the host lookup failed
    (DNS may recover, so a delivery is retried)."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message, status_code=422)
        self.final = code != UNRESOLVED


@dataclass(frozen=True)
class Target:
    """Where to send a webhook: the checked address in place of the host name, the Host header and the TLS
    server name of the original URL."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses a connection to host:port may go to (tests replace this to resolve without a network)."""
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def address_class(ip: IPAddress) -> str | None:
    """The kind of non-public address `ip` is ("loopback", "private", ...), or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),  # 169.254.169.254, the cloud metadata service, is one
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),  # e.g. 100.64.0.0/10, carrier-grade NAT
    )
    return next((name for name, hit in checks if hit), None)


def _allow_listed(host: str, ip: IPAddress, allowed: list[str]) -> bool:
    for entry in allowed:
        try:
            if ip in ipaddress.ip_network(entry.strip(), strict=False):
                return True
        except ValueError:  # not an address or network: a host name
            if entry.strip().rstrip(".").lower() == host.rstrip(".").lower():
                return True
    return False


def check_webhook_url(url: str) -> Target:
    """Where to deliver `url`, or WebhookURLError saying what is wrong and which setting would allow it.
    Every address the host resolves to must pass: the connection could go to any of them."""
    parsed = httpx.URL(url)
    if parsed.scheme not in SCHEMES or not parsed.raw_host:
        raise WebhookURLError(NOT_ALLOWED, f"webhook_url must be an http:// or https:// URL with a host, not {url!r}.")
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(a) for a in resolve_host(host, port)]
    except (OSError, UnicodeError, ValueError) as exc:
        raise WebhookURLError(
            UNRESOLVED, f"webhook_url: the host {host!r} does not resolve ({exc}); give a host this server can reach."
        ) from exc
    if not addresses:
        raise WebhookURLError(UNRESOLVED, f"webhook_url: the host {host!r} has no address.")
    settings = get_settings()
    if not settings.webhook_allow_private:
        for ip in addresses:
            kind = address_class(ip)
            if kind and not _allow_listed(host, ip, settings.webhook_allowed_hosts):
                where = host if host == str(ip) else f"{host} resolves to {ip}, which"
                raise WebhookURLError(NOT_ALLOWED, f"webhook_url: {where} is a {kind} address; {HOW_TO_ALLOW}.")
    return Target(
        url=parsed.copy_with(host=str(addresses[0])),
        headers={"Host": parsed.netloc.decode("ascii")},
        extensions={"sni_hostname": host} if parsed.scheme == "https" else {},
    )
