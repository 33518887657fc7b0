"""Where a webhook may point: the URL rules checked at registration and the address rule checked again at
delivery against every address the host name resolves to (a name is never resolved here: DNS changes)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

from shared.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})  # outside production, with an explicit port
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not reachable from the internet
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # embeds an IPv4 address a NAT64 gateway would reach
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated form embedding an IPv4 address
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def address_refusal(address: Address, *, production: bool) -> str | None:
    """Why a webhook may not be delivered to ``address`` (e.g. "private address"), or None when it may: a public
    unicast address; outside production a loopback address too. An address embedding an IPv4 address (mapped,
    6to4, NAT64) is judged by that address; the Python version's own tables are not relied on for it."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded, production=production)
            return f"IPv4-embedding {reason}" if reason else None
        if address.teredo is not None:
            return "Teredo address"
        if address in _IPV4_COMPATIBLE and not (address.is_unspecified or address.is_loopback):
            return "IPv4-compatible address"
        if address in _NAT64_LOCAL:
            return "private address"
    if address.is_loopback:
        return None if not production else "loopback address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_link_local:
        return "link-local address"
    if address.is_multicast:
        return "multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared address"
    if address.is_private:
        return "private address"
    if address.is_reserved:
        return "reserved address"
    if not address.is_global:
        return "non-public address"
    return None


def address_allowed(address: Address, *, production: bool) -> bool:
    """The delivery-time rule: public unicast; outside production loopback is allowed too."""
    return address_refusal(address, production=production) is None


def check_webhook_url(url: str, *, production: bool) -> str:
    """The registration rules: the URL normalised (scheme and host lower-case, no fragment), or InvalidInput.

    ``https://`` with a host and no user info; a literal IP host must be public unicast; ``localhost``,
    ``*.localhost``, ``*.local`` and ``*.internal`` are refused in production. Outside production
    ``http(s)://127.0.0.1:<port>/...`` and ``http(s)://localhost:<port>/...`` (the port explicit) are allowed too."""
    if len(url) > MAX_URL_LENGTH:
        raise _refused(f"at most {MAX_URL_LENGTH} characters")
    if not url.isascii() or any(c.isspace() or not c.isprintable() or c == "\\" for c in url):
        raise _refused("only printable ASCII without spaces or backslashes (percent-encode the rest)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused("not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise _refused("must be https")
    if "@" in parts.netloc:
        raise _refused("must not contain user info")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _refused("must have a host")
    if port == 0:
        raise _refused("port 0 is not a port")
    loopback_exception = not production and host in _LOOPBACK_HOSTS and port is not None
    if scheme == "http" and not loopback_exception:
        raise _refused("must be https")
    if not loopback_exception:
        literal = _literal_address(host)
        if literal is not None:
            reason = address_refusal(literal, production=True)
            if reason:
                raise _refused(f"host is a {reason}")
        else:
            _check_host_name(host, production=production)
    return _normalised(parts, scheme, host, port)


def _check_host_name(host: str, *, production: bool) -> None:
    labels = host.split(".")
    if not all(_LABEL.match(label) for label in labels) or len(host) > 253:
        raise _refused("host is not a valid host name")
    if _NUMERIC_LABEL.match(labels[-1]):
        # "127.1", "0x7f.1", "2130706433": resolvers read these as IPv4 addresses, ipaddress does not
        raise _refused("host is an IPv4 address in a non-standard form")
    if host == "localhost" or host.endswith(_INTERNAL_SUFFIXES):
        if production or host != "localhost":
            raise _refused("host is a local name")
        raise _refused("localhost needs an explicit port")


def _literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _normalised(parts: SplitResult, scheme: str, host: str, port: int | None) -> str:
    literal = _literal_address(host)
    shown = f"[{literal.compressed}]" if isinstance(literal, ipaddress.IPv6Address) else host
    netloc = shown if port is None else f"{shown}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _refused(reason: str) -> InvalidInput:
    return InvalidInput(f"webhook URL not allowed: {reason}", [{"loc": ["body", "url"], "msg": reason}])
