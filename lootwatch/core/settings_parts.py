"""Each component's part of the settings.

The environment keeps one flat ``LOOTWATCH_*`` name per value (operators' files stay as they are);
:class:`~lootwatch.core.settings.Settings` hands each component the frozen part it reads, so a
component's signature says which values it depends on: ``settings.crawl``, ``settings.notices``,
``settings.alerts``, ``settings.matching``, ``settings.web``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict


class Part(BaseModel):
    model_config = ConfigDict(frozen=True)


class CrawlSettings(Part):
    """What the crawlers read."""

    sites_file: Path | None
    user_agent: str
    contact: str
    download_delay_s: float
    chromium_path: str | None
    max_photo_bytes: int
    max_photo_pixels: int
    max_page_bytes: int


class MatchingSettings(Part):
    """What index builds and the match workers read."""

    descriptor: str
    device: str
    torch_threads: int
    top_k: int
    score_contrast: float
    gallery_scales: tuple[float, ...]
    gallery_mirror: bool
    fine_tune_steps: int
    fine_tune_folds: int
    classifier_backbones: tuple[str, ...]
    batch_size: int
    precision: str
    worker_processes: int
    requeue_after_s: float
    metrics_port: int


class AlertSettings(Part):
    """What the alert rules read."""

    alert_threshold: float | None
    notify_threshold: float | None
    fused_alert_threshold: float | None
    collection_thresholds: dict[str, float]
    alert_top_k: int
    alert_min_agreeing_photos: int
    alert_geometric_check: bool
    alert_min_inliers: int


class NoticeSettings(Part):
    """What the notice senders read (``store_dir``: the photos they attach)."""

    store_dir: Path
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_starttls: bool
    email_from: str
    email_to: list[str]
    slack_webhook_url: str | None
    notice_max_attempts: int
    notice_backoff_s: float
    review_base_url: str


class WebSettings(Part):
    """What the review web app reads besides the database."""

    data_dir: Path
    store_dir: Path
    review_base_url: str


P = TypeVar("P", bound=Part)


def part_of(settings: Any, part: type[P]) -> P:
    """``part`` filled from the settings' values of the same names."""
    return part.model_validate({name: getattr(settings, name) for name in part.model_fields})
