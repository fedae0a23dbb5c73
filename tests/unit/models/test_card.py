from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lootwatch.models.card import ModelCard, state_dict_sha256
from lootwatch.models.descriptor import build_descriptor, load_descriptor, new_card, read_checkpoint, save_checkpoint
from lootwatch.models.errors import ModelError


def tiny_card(arch: str = "pan") -> ModelCard:
    return new_card(arch, "lite0", name=f"t-{arch}", dim=32, input_size=(64, 64))


def test_card_round_trip_and_version() -> None:
    card = tiny_card()
    card.weights_sha256 = "ab" * 32
    again = ModelCard.from_dict(card.to_dict())
    assert again == card
    assert again.version == "t-pan-" + "ab" * 6
    assert again.input_size == (64, 64) and again.dim == 32


def test_card_refuses_missing_and_unknown_fields() -> None:
    d = tiny_card().to_dict()
    with pytest.raises(ModelError, match="unknown fields"):
        ModelCard.from_dict({**d, "surprise": 1})
    del d["dim"]
    with pytest.raises(ModelError, match="lacks dim"):
        ModelCard.from_dict(d)


def test_checkpoint_round_trip_restores_fp32(tmp_path: Path) -> None:
    model = build_descriptor(tiny_card(), pretrained=False)
    with torch.no_grad():
        model.get_parameter("head.query").normal_()
    path = tmp_path / "m.pt"
    card = save_checkpoint(model, path, half=True)
    assert card.extra["stored_dtype"] == "float16"
    loaded = load_descriptor(str(path))
    assert loaded.card.version == card.version
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    assert torch.allclose(loaded.embed_batch(x), model.embed_batch(x), atol=2e-2)


def test_checkpoint_with_altered_weights_or_card_is_refused(tmp_path: Path) -> None:
    model = build_descriptor(tiny_card(), pretrained=False)
    path = tmp_path / "m.pt"
    save_checkpoint(model, path)
    blob = torch.load(path, weights_only=True)
    key = next(iter(blob["state_dict"]))
    blob["state_dict"][key] = blob["state_dict"][key] + 1
    torch.save(blob, tmp_path / "tampered.pt")
    with pytest.raises(ModelError, match="do not match the card"):
        load_descriptor(str(tmp_path / "tampered.pt"))

    other = build_descriptor(tiny_card("gem"), pretrained=False)
    blob = torch.load(path, weights_only=True)
    blob["card"]["weights_sha256"] = state_dict_sha256(other.state_dict())
    torch.save(blob, tmp_path / "swapped.pt")
    with pytest.raises(ModelError, match="do not match the card"):
        read_checkpoint(tmp_path / "swapped.pt")


def test_card_arch_that_does_not_fit_the_weights_is_refused(tmp_path: Path) -> None:
    model = build_descriptor(tiny_card("pan"), pretrained=False)
    path = tmp_path / "m.pt"
    save_checkpoint(model, path)
    blob = torch.load(path, weights_only=True)
    blob["card"]["arch"] = "pan-noatt"  # hash still right, architecture no longer fits
    torch.save(blob, tmp_path / "arch.pt")
    with pytest.raises(ModelError, match="do not fit"):
        load_descriptor(str(tmp_path / "arch.pt"))


def test_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not torch")
    with pytest.raises(ModelError, match="not a loadable checkpoint"):
        load_descriptor(str(tmp_path / "junk.pt"))
    with pytest.raises(ModelError, match="no checkpoint"):
        load_descriptor(str(tmp_path / "missing.pt"))


def test_reading_cards_and_indexes_loads_no_torch() -> None:
    """The matcher reads model cards (an index's identity) without loading torch."""
    code = (
        "import sys, lootwatch.models.card, lootwatch.matcher.index, lootwatch.matcher.store;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
