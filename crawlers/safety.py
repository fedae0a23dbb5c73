"""Refuse URLs that resolve to this machine or its private network (SSRF), and politeness arithmetic."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

from protego import Protego

from lootwatch.core.errors import BadInputError


class UnsafeURLError(BadInputError):
    """The URL points to a loopback, private, link-local or otherwise internal address."""


def _internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified


HOST_VERDICT_TTL_S = 60.0


class HostVerdicts:
    """What each host resolved to, kept ``ttl_s``: one DNS lookup per host a minute instead of one per
    request (each lookup blocks the crawl's reactor thread). A host that did not resolve is asked again."""

    def __init__(self, ttl_s: float = HOST_VERDICT_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._kept: dict[tuple[str, int], tuple[float, str]] = {}

    def refusal(self, host: str, port: int) -> str:
        now = time.monotonic()
        kept = self._kept.get((host, port))
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            why = _internal_reason(host, port)
        except UnsafeURLError:
            self._kept.pop((host, port), None)
            raise
        self._kept[(host, port)] = (now + self.ttl_s, why)
        return why


def host_key(url: str) -> str:
    """``host:port`` of ``url`` (lower case, the scheme's default port filled in); '' without a host."""
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:  # a port that is no number: no key, so never allowed
        return ""
    return f"{parts.hostname.lower()}:{port}"


def private_hosts_of(urls: Iterable[str]) -> frozenset[str]:
    """The ``host:port`` of each of a site's configured URLs: the only internal addresses its
    ``allow_private`` lets the crawler reach (never a host a redirect or a photo URL names)."""
    return frozenset(k for k in (host_key(u) for u in urls) if k)


def check_url(url: str, *, private_hosts: Collection[str] = (), verdicts: HostVerdicts | None = None) -> None:
    """Raise UnsafeURLError unless ``url`` is http(s) and every address its host resolves to is public.

    ``private_hosts``: ``host:port`` keys (:func:`private_hosts_of`) allowed although internal (a
    local test or demo site); any other internal address is refused. ``verdicts``: earlier lookups
    to reuse (the crawler's); None resolves the host now.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeURLError(f"refused {url!r}: only http(s) URLs are fetched")
    host = parts.hostname
    if not host:
        raise UnsafeURLError(f"refused {url!r}: no host")
    key = host_key(url)
    if not key:
        raise UnsafeURLError(f"refused {url!r}: bad port")
    if key in private_hosts:
        return
    port = int(key.rsplit(":", 1)[1])
    try:
        why = verdicts.refusal(host, port) if verdicts is not None else _internal_reason(host, port)
    except UnsafeURLError as exc:
        raise UnsafeURLError(f"refused {url!r}: {exc}") from exc
    if why:
        raise UnsafeURLError(f"refused {url!r}: {why}")


def _internal_reason(host: str, port: int) -> str:
    """Why ``host`` is internal ('' when every address it resolves to is public); UnsafeURLError
    when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeURLError(f"host does not resolve ({exc})") from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _internal(ip):
            return f"{host} resolves to internal address {ip}"
    return ""


def robots_crawl_delay(robots_txt: str, user_agent: str) -> float | None:
    """Crawl-delay robots.txt asks of ``user_agent`` (None: it sets none)."""
    delay = Protego.parse(robots_txt).crawl_delay(user_agent)
    return float(delay) if delay is not None else None


def polite_delay(ours: float, theirs: float | None) -> float:
    """The delay between requests to a site: the larger of ours and the site's Crawl-delay."""
    return max(ours, theirs or 0.0)
