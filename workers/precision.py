"""Start-up choice of the CPU forward-pass precision: time fp32, bf16 autocast and channels_last.

Chosen once per process (cached by model version and batch size, and in a small JSON file beside
the data so that restarted workers on the same machine skip the timing) from a few timed batches
of a synthetic input; bf16 is kept only if its embeddings agree with fp32 (cosine >= MIN_AGREEMENT),
so a faster mode never silently moves scores across the alert threshold.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lootwatch.models.cpu import native_bf16

from lootwatch.core.files import atomic_write

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "channels_last")
MIN_AGREEMENT = 0.995
TIMED_RUNS = 2
_cache: dict[tuple[str, int], str] = {}


class TimesForward(Protocol):
    """What the choice needs of a match engine (workers.engine.MatchEngine is one)."""

    @property
    def model_version(self) -> str: ...

    @property
    def descriptor(self) -> Any: ...

    def set_precision(self, precision: str) -> None: ...

    def forward(self, x: torch.Tensor, precision: str | None = None) -> torch.Tensor: ...


def _machine_key(engine: TimesForward, batch: int) -> str:
    import torch  # heavy import: deferred to the worker that times a forward pass

    return f"{engine.model_version}|{batch}|{platform.machine()}|{platform.node()}|torch-{torch.__version__}"


def _read(cache_file: Path | None) -> dict[str, str]:
    try:
        return dict(json.loads(cache_file.read_text())) if cache_file else {}
    except (OSError, ValueError):
        return {}


def choose_precision(engine: TimesForward, batch: int, cache_file: Path | None = None) -> str:
    """The fastest CPU precision of ``engine`` whose embeddings agree with fp32; set on it and returned."""
    import torch  # heavy import: deferred to the worker that times a forward pass

    key = (engine.model_version, batch)
    known = _cache.get(key) or _read(cache_file).get(_machine_key(engine, batch))
    if known in PRECISIONS:
        engine.set_precision(known)
        _cache[key] = known
        return known
    h, w = engine.descriptor.card.input_size
    x = torch.randn(max(1, min(batch, 16)), 3, h, w, generator=torch.Generator().manual_seed(0))
    timings: dict[str, float] = {}
    reference = None
    for mode in PRECISIONS:
        if mode == "bf16" and not native_bf16():
            # emulated bf16 is ~10x slower: timing it would cost minutes of start-up to learn that
            log.info("precision skipped", extra={"action": "precision.skip", "mode": mode, "error": "no native bf16"})
            continue
        engine.set_precision(mode)
        try:
            out = engine.forward(x, mode)  # warm-up (and the agreement check)
        except RuntimeError as exc:  # e.g. no bf16 kernels on this CPU
            log.info(
                "precision unavailable",
                extra={"action": "precision.skip", "mode": mode, "error": str(exc)[:200]},
            )
            continue
        if reference is None:
            reference = out
        agreement = float((out * reference).sum(dim=1).min())
        if agreement < MIN_AGREEMENT:
            log.info(
                "precision disagrees with fp32",
                extra={"action": "precision.skip", "mode": mode, "cosine": agreement},
            )
            continue
        start = time.perf_counter()
        for _ in range(TIMED_RUNS):
            engine.forward(x, mode)
        timings[mode] = (time.perf_counter() - start) / TIMED_RUNS
    best = min(timings, key=lambda m: timings[m]) if timings else "fp32"
    engine.set_precision(best)
    _cache[key] = best
    if cache_file is not None:
        try:
            atomic_write(
                cache_file, json.dumps({**_read(cache_file), _machine_key(engine, batch): best}), durable=False
            )
        except OSError:
            pass  # only a start-up shortcut
    log.info(
        "forward precision chosen",
        extra={
            "action": "precision.chosen",
            "chosen": best,
            "batch_s": {k: round(v, 4) for k, v in timings.items()},
        },
    )
    return best
