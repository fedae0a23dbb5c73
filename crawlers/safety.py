"""Refuse URLs that resolve to this machine or its private network (SSRF), and politeness arithmetic."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from protego import Protego

from lootwatch.errors import BadInputError


class UnsafeURLError(BadInputError):
    """The URL points to a loopback, private, link-local or otherwise internal address."""


def _internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Raise UnsafeURLError unless every address ``url``'s host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError(f"refused {url!r}: only http(s) URLs are fetched")
    host = parts.hostname
    if not host:
        raise UnsafeURLError(f"refused {url!r}: no host")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        raise UnsafeURLError(f"refused {url!r}: host does not resolve ({exc})") from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _internal(ip):
            raise UnsafeURLError(f"refused {url!r}: {host} resolves to internal address {ip}")


def robots_crawl_delay(robots_txt: str, user_agent: str) -> float | None:
    """Crawl-delay robots.txt asks of ``user_agent`` (None: it sets none)."""
    delay = Protego.parse(robots_txt).crawl_delay(user_agent)
    return float(delay) if delay is not None else None


def polite_delay(ours: float, theirs: float | None) -> float:
    """The delay between requests to a site: the larger of ours and the site's Crawl-delay."""
    return max(ours, theirs or 0.0)
