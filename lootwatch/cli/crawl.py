"""``lootwatch crawl|extract|scheduler|crawl-worker``: crawl auction sites, read one saved page, queue crawls
on a cadence, run queued crawls."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from lootwatch.cli.context import running
from lootwatch.core.errors import ConfigError
from lootwatch.core.services import resolved
from lootwatch.crawlers.extract import extract_page
from lootwatch.crawlers.extract.text import decode_page
from lootwatch.crawlers.scheduler import run_scheduler
from lootwatch.crawlers.sites import load_sites


def _sites(sites_file: Path | None, default: Path | None, names: list[str] | None):  # type: ignore[no-untyped-def]
    available = load_sites(sites_file or default)
    if not names:
        return list(available.values())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ConfigError(f"unknown site(s) {', '.join(unknown)}; the sites file has: {', '.join(sorted(available))}")
    return [available[n] for n in names]


def _print_stats(results) -> None:  # type: ignore[no-untyped-def]
    for s in results:
        typer.echo(
            f"{s.site}: {s.status} - {s.pages} pages, {s.listings} listings "
            f"({s.listings_changed} new/changed, {s.listings_skipped} unchanged on search pages), "
            f"photos {s.photos_new} new / {s.photos_known} known / {s.photos_rejected} rejected, "
            f"{s.blocked} blocked pages, {s.errors} errors{' - ' + s.note if s.note else ''}"
        )


def crawl(
    sites: list[str] = typer.Argument(..., help="Site names from the sites file."),
    sites_file: Path | None = typer.Option(None, "--sites-file", help="TOML sites file (default: settings / bundled)."),
) -> None:
    """Crawl sites once: listings, page snapshots and photos are stored; new photos are queued."""
    from lootwatch.crawlers.run import run_crawl  # heavy import: playwright

    with running() as (s, _db, urls):
        chosen = _sites(sites_file, s.sites_file, sites)
        results = run_crawl(s, urls.database_url, urls.redis_url, chosen)
    _print_stats(results)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def extract(
    page: Path = typer.Argument(..., exists=True, dir_okay=False, help="A saved HTML page."),
    url: str = typer.Option(..., "--url", help="The URL the page was fetched from."),
    adapter: str | None = typer.Option(
        None, "--adapter", help="generic, ebay, liveauctioneers, catawiki (default: by URL)."
    ),
) -> None:
    """Print what the crawler reads from a saved page, as JSON."""
    try:
        result = extract_page(decode_page(page.read_bytes()), url, adapter=adapter)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))


def scheduler(
    sites: list[str] | None = typer.Argument(None, help="Site names (default: all in the sites file)."),
    sites_file: Path | None = typer.Option(None, "--sites-file"),
    tick: float = typer.Option(30.0, help="Seconds between checks for due sites."),
    once: bool = typer.Option(False, "--once", help="Queue the due sites once and exit."),
) -> None:
    """Queue each site's crawl on its cadence for `lootwatch crawl-worker`s; runs of one site never overlap."""

    with running() as (s, _db, urls):
        chosen = _sites(sites_file, s.sites_file, sites)
        typer.echo(f"scheduling {', '.join(f'{c.name} every {c.cadence}' for c in chosen)}")
        run_scheduler(urls.database_url, urls.redis_url, chosen, tick_s=tick, once=once, report=_print_enqueued)


def _print_enqueued(outcomes) -> None:  # type: ignore[no-untyped-def]
    for o in outcomes:
        typer.echo(f"{o.site}: queued" if o.queued else f"{o.site}: not queued - {o.why}")


def crawl_worker(
    sites_file: Path | None = typer.Option(None, "--sites-file", help="TOML sites file (default: settings / bundled)."),
    burst: bool = typer.Option(False, help="Exit when the crawl queue is empty."),
    timeout: float = typer.Option(6 * 3600.0, help="Seconds one crawl may run before it is stopped."),
    name: str | None = typer.Option(None, help="Worker name shown by RQ (default: host and pid)."),
) -> None:
    """Take crawl jobs off the `crawl` queue (one crawl at a time; run any number, on any machines)."""
    from lootwatch.crawlers.jobs import CrawlContext, run_crawl_worker  # heavy import: scrapy, twisted

    with running() as (s, _db, urls):
        if sites_file is not None:
            s = s.model_copy(update={"sites_file": sites_file})
        load_sites(s.sites_file)  # a broken sites file stops the worker now, not each job later
        context = CrawlContext(resolved(s, urls), urls.database_url, urls.redis_url, timeout)
        run_crawl_worker(context, burst=burst, name=name)


def register(app: typer.Typer) -> None:
    app.command("crawl")(crawl)
    app.command("extract")(extract)
    app.command("scheduler")(scheduler)
    app.command("crawl-worker")(crawl_worker)
