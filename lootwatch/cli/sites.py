"""``lootwatch sites try``: what the crawler would read from one page of a site, and a sites.toml entry for it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import typer

from lootwatch.core.errors import BadInputError, ConfigError
from lootwatch.core.settings import Settings
from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.result import PageResult
from lootwatch.crawlers.extract.suggest import site_entry, suggest_selectors
from lootwatch.crawlers.extract.text import decode_page, strip_http_headers
from lootwatch.crawlers.extract.variants import declared_size

sites_app = typer.Typer(
    help="Try the crawler's extraction on a site before adding it to sites.toml.", no_args_is_help=True
)

_MAX_PAGE_BYTES = 20 * 1024 * 1024


def _fetch(url: str, user_agent: str, timeout: float) -> str:
    """The page at ``url``, fetched once, as the crawler would (its user agent, robots.txt obeyed)."""
    parts = urlsplit(url)
    robots = RobotFileParser(f"{parts.scheme}://{parts.netloc}/robots.txt")
    try:
        robots.read()
    except OSError:
        pass  # no robots.txt reachable: the crawler treats that as allowed too
    if not robots.can_fetch(user_agent, url):
        raise BadInputError(f"robots.txt of {parts.netloc} disallows {url} for {user_agent!r}")
    request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": "text/html,*/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked by caller
            body = response.read(_MAX_PAGE_BYTES + 1)
            charset = response.headers.get_content_charset()
    except OSError as exc:
        raise BadInputError(f"could not fetch {url}: {exc}") from exc
    if len(body) > _MAX_PAGE_BYTES:
        raise BadInputError(f"{url} is larger than {_MAX_PAGE_BYTES} bytes")
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            pass  # an unknown charset name: the page's own declaration decides
    return decode_page(body)


def try_page(
    target: str = typer.Argument(..., help="A URL to fetch, or a saved HTML page."),
    url: str | None = typer.Option(None, "--url", help="The URL a saved page was fetched from."),
    adapter: str | None = typer.Option(None, "--adapter", help="Force an adapter (default: by the URL's host)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    timeout: float = typer.Option(30.0, help="Seconds to wait for a fetched page."),
) -> None:
    """Show what the crawler would extract from one page, which rule produced each field, and a suggested
    sites.toml entry with selectors."""
    # deferred like every command module's own imports, so `lootwatch --help` does not load lxml/parsel
    from parsel import Selector


    if urlsplit(target).scheme in ("http", "https"):
        page_url = url or target
        html = _fetch(target, Settings().user_agent, timeout)
    else:
        path = Path(target)
        if not path.is_file():
            raise BadInputError(f"{target} is neither an http(s) URL nor a saved page")
        if not url:
            raise BadInputError("a saved page needs --url URL (the address it was fetched from)")
        page_url = url
        html = decode_page(path.read_bytes())
    try:
        page = extract_page(html, page_url, adapter=adapter)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    root = Selector(text=strip_http_headers(html)[0] or "<html></html>").root
    selectors = suggest_selectors(root, page)
    if as_json:
        typer.echo(json.dumps({**page.to_dict(), "suggested_selectors": selectors}, ensure_ascii=False, indent=1))
        return
    typer.echo(report(page, selectors, site_entry(page, selectors)))


def report(page: PageResult, selectors: dict[str, str], entry: str) -> str:
    """The page's extraction as an analyst reads it."""

    src = page.sources
    lines = [f"page:       {page.page_type} (adapter {page.adapter})  {page.url}"]
    if page.reason:
        lines.append(f"reason:     {page.reason}")
    if page.title:
        lines.append(f"title:      {page.title}  [{src.get('title') or page.adapter + ' adapter'}]")
    if page.price_text:
        lines.append(f"price:      {page.price_text} ({page.amount} {page.currency or '?'})")
    if page.item_id:
        lines.append(f"item id:    {page.item_id}")
    if page.page_type == "item":
        how = src.get("photos") or f"{page.adapter} adapter"
        lines.append(f"photos:     {len(page.photos)}  [{how}; confidence {page.confidence:.1f}]")
        lines += [f"  {i:>3}. {p}  ({declared_size(p)})" for i, p in enumerate(page.photos, 1)]
        left = page.extra.get("other_listing_photos_left_out")
        if left:
            lines.append(f"            {left} photo(s) of other listings left out")
    if page.results:
        lines.append(f"results:    {len(page.results)}  [{src.get('results') or page.adapter + ' adapter'}]")
        for i, r in enumerate(page.results, 1):
            lines.append(f"  {i:>3}. {r.title[:70]}  {r.price_text}")
            lines.append(f"       {r.url}")
    if page.page_type == "search":
        nxt = page.next_page or ("(needs JavaScript)" if page.extra.get("paging") == "javascript" else "(none found)")
        lines.append(f"next page:  {nxt}  [{src.get('next_page', '')}]")
    if page.needs_review:
        lines.append("NEEDS REVIEW:")
        lines += [f"  - {r}" for r in page.review_reasons]
    lines.append("")
    lines.append("suggested sites.toml entry" + (" (selectors pin down what the rules found):" if selectors else ":"))
    lines.append(entry)
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    sites_app.command("try")(try_page)
    app.add_typer(sites_app, name="sites")
