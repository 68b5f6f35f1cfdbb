"""Where webhooks may go: the public internet only, plus networks the operator opens on purpose.

A tenant admin chooses the URL, so without this an endpoint is a port scanner for the service's own
network (`http://127.0.0.1:6379`, `https://169.254.169.254`, `https://redis`, ...). Every address a
host is or resolves to is checked, numeric forms included (`2130706433`, `0x7f.1`, `127.1`), both
when the URL is saved and again when a delivery is sent; the sender then connects to the very
addresses checked here, so a second DNS answer cannot rebind the name to an internal address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from socket import getaddrinfo  # module-level, so tests can stand in a resolver without touching DNS
from urllib.parse import SplitResult

from . import conf

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CGNAT = ipaddress.ip_network("100.64.0.0/10")  # shared address space (RFC 6598): is_private misses it
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: reaches the IPv4 address it embeds
# What inet_aton also reads as an IPv4 address: 1 to 4 parts, decimal, octal (0…) or hex (0x…).
NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)

# The fixed error classes a refused send records (never the address, which may be internal).
INVALID_URL = "invalid_url"
REFUSED_ADDRESS = "refused_address"
DNS_ERROR = "dns_error"


class EgressRefused(Exception):
    """The URL may not be contacted; `problem` completes "The URL …", `error_class` is what the log keeps."""

    def __init__(self, problem: str, error_class: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.error_class = error_class


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to `addresses` (in order), speak to `host` (Host header, TLS name)."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def address_kind(address: IPAddress) -> str | None:
    """Which kind of non-public address this is, or None for a public internet address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        kind = address_kind(embedded)
        if kind is not None:
            return kind
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("site-local", address.version == 6 and address.is_site_local),  # fec0::/10: deprecated, still routed
        ("multicast", address.is_multicast),
        ("shared (CGNAT)", address.version == 4 and address in CGNAT),
        ("private", address.is_private),  # includes unique-local fc00::/7 and IPv4-mapped ::ffff:0:0/96
        ("reserved", address.is_reserved),
        ("non-global", not address.is_global),
    )
    return next((kind for kind, matches in checks if matches), None)


def _allowed(address: IPAddress) -> bool:
    """Inside a network the operator opened with WEBHOOK_ALLOWED_NETWORKS."""
    candidates = [address]
    if address.version == 6 and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(candidate in network for network in conf.allowed_networks() for candidate in candidates)


def host_literal(host: str) -> IPAddress | None:
    """The address a numeric host names (IPv6, dotted quad, or any form inet_aton accepts), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            raise EgressRefused("has a malformed numeric host", REFUSED_ADDRESS) from None
    return None


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    literal = host_literal(host)
    if literal is not None:
        return (literal,)
    try:
        answers = getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError; an over-long label is a UnicodeError
        answers = []
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise EgressRefused("has a host that does not resolve", DNS_ERROR)
    return tuple(addresses)


def target_check(parts: SplitResult) -> Target:
    """Resolve the URL's host once and check every address; the Target to connect to, or EgressRefused."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    literal = len(addresses) == 1 and host_literal(host) is not None
    for address in addresses:
        kind = address_kind(address)
        if kind is not None and not _allowed(address):
            # For a name, not which kind: the tenant learns nothing about the internal address it found.
            problem = f"points at a {kind} address" if literal else "resolves to an address that is not public"
            raise EgressRefused(f"{problem}; webhooks only reach the public internet", REFUSED_ADDRESS)
    if parts.scheme == "http" and not all(_allowed(address) for address in addresses):
        raise EgressRefused(
            "must use https (plain http only reaches networks the operator allows)", REFUSED_ADDRESS
        )
    return Target(scheme=parts.scheme, host=host, port=port, addresses=addresses)
