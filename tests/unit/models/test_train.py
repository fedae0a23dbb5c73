from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from lootwatch.models.descriptor import load_descriptor, read_checkpoint
from lootwatch.models.errors import ModelError
from lootwatch.models.train_descriptor import train_descriptor
from lootwatch.models.training_data import read_training_set

# small and single-threaded: bf16/channels_last only pay off on full-size batches
TINY: dict[str, Any] = dict(
    input_size=64,
    dim=16,
    objects_per_batch=2,
    photos_per_object=2,
    clean_per_object=1,
    steps_per_epoch=2,
    bf16=False,
    channels_last=False,
    threads=1,
)


def coil_subset(shared_dir: Path, dest: Path, objects: int = 3, photos: int = 3) -> Path:
    src = shared_dir / "data" / "coil100-train"
    for obj in sorted(p for p in src.iterdir() if p.is_dir())[1 : 1 + objects]:
        (dest / obj.name).mkdir(parents=True)
        for f in sorted(obj.glob("*.png"))[:photos]:
            shutil.copy(f, dest / obj.name / f.name)
    return dest


def test_one_epoch_gives_a_loadable_checkpoint_and_resumes(shared_dir: Path, tmp_path: Path) -> None:
    data = coil_subset(shared_dir, tmp_path / "coil")
    out = train_descriptor(data, tmp_path / "pan.pt", arch="pan", epochs=1, progress=False, **TINY)
    card, _ = read_checkpoint(out)
    assert card.arch == "pan" and card.dim == 16 and card.input_size == (64, 64)
    assert card.extra["epochs_done"] == 1 and card.extra["stored_dtype"] == "float16"
    assert card.training_data_sha256 == read_training_set(data).sha256
    d = load_descriptor(str(out))
    from PIL import Image

    emb = d.embed([Image.open(next((data / "obj002").glob("*.png")))])
    assert emb.shape == (1, 16)

    with pytest.raises(ModelError, match="exists"):
        train_descriptor(data, out, arch="pan", epochs=2, progress=False, **TINY)
    train_descriptor(data, out, arch="pan", epochs=2, resume=True, progress=False, **TINY)
    assert read_checkpoint(out)[0].extra["epochs_done"] == 2
    with pytest.raises(ModelError, match="settings changed"):
        train_descriptor(data, out, arch="gem", epochs=3, resume=True, progress=False, **TINY)


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    from PIL import Image

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="no photos"):
        read_training_set(empty)
    with pytest.raises(ModelError, match="does not exist"):
        read_training_set(tmp_path / "nowhere")

    few = tmp_path / "few"
    for obj, n in (("a", 2), ("b", 1), ("c", 1)):
        (few / obj).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(few / obj / f"{i}.png")
    with pytest.raises(ModelError, match=r"1 object\(s\) with at least two photos.*b, c"):
        read_training_set(few)
    Image.new("RGB", (16, 16)).save(few / "b" / "9.png")
    ok = read_training_set(few)
    assert sorted(ok.objects) == ["a", "b"] and ok.single_photo == ["c"]

    (few / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ModelError, match=r"(?s)1 unreadable image\(s\).*broken.png"):
        read_training_set(few)


def test_gallery_csv_source(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "gallery").mkdir()
    rows = ["image,artefact_id,collection"]
    for obj in ("A1", "A2"):
        for i in range(2):
            Image.new("RGB", (16, 16), (i * 90, 10, 10)).save(tmp_path / "gallery" / f"{obj}_{i}.png")
            rows.append(f"gallery/{obj}_{i}.png,{obj},x")
    (tmp_path / "gallery.csv").write_text("\n".join(rows) + "\n")
    assert sorted(read_training_set(tmp_path / "gallery.csv").objects) == ["A1", "A2"]
    (tmp_path / "gallery.csv").write_text("\n".join([*rows, "gallery/missing.png,A1,x"]) + "\n")
    with pytest.raises(ModelError, match="missing"):
        read_training_set(tmp_path / "gallery.csv")


def test_unknown_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown training option"):
        train_descriptor(tmp_path, tmp_path / "x.pt", learning_rate=1.0)
    with pytest.raises(ModelError, match="mining"):
        train_descriptor(tmp_path, tmp_path / "x.pt", mining="random")
