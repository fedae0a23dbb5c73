from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lootwatch.matcher.errors import IndexMismatchError, IndexNotFoundError
from lootwatch.matcher.index import GalleryIndex
from lootwatch.models.card import card_version

from lootwatch.core.errors import BadInputError, LootwatchError
from lootwatch.core.gallery_photos import GalleryPhoto


def unit(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def gallery(card_factory) -> tuple[GalleryIndex, np.ndarray, list[str]]:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 40)
    artefacts = [f"A{i // 4:03d}" for i in range(40)]  # 10 artefacts x 4 photos
    index = GalleryIndex.from_vectors(card_factory(), np.arange(100, 140), artefacts, vectors)
    return index, vectors, artefacts


def brute_force(vectors: np.ndarray, artefacts: list[str], ids: np.ndarray, q: np.ndarray) -> list[tuple[str, float]]:
    scores = vectors @ q
    best: dict[str, tuple[float, int]] = {}
    for s, a, pid in zip(scores, artefacts, ids, strict=True):
        if a not in best or s > best[a][0]:
            best[a] = (float(s), int(pid))
    return sorted(((a, s) for a, (s, _) in best.items()), key=lambda t: -t[1])


def test_search_ranks_artefacts_by_their_best_photo(gallery) -> None:
    index, vectors, artefacts = gallery
    queries = unit(np.random.default_rng(2), 5)
    for q, hits in zip(queries, index.search(queries, k=3), strict=True):
        expect = brute_force(vectors, artefacts, np.arange(100, 140), q)[:3]
        assert [h.artefact_id for h in hits] == [a for a, _ in expect]
        assert [h.similarity for h in hits] == pytest.approx([s for _, s in expect], abs=1e-5)
        assert [h.rank for h in hits] == [0, 1, 2]
        assert all(index.artefact_of[h.photo_id] == h.artefact_id for h in hits)


def test_score_is_similarity_less_contrast_times_the_best_other_artefact(gallery) -> None:
    index, vectors, artefacts = gallery
    assert index.contrast == 0.5
    queries = unit(np.random.default_rng(3), 5)
    for q, hits in zip(queries, index.search(queries, k=1), strict=True):
        (a1, s1), (_, s2) = brute_force(vectors, artefacts, np.arange(100, 140), q)[:2]
        assert hits[0].artefact_id == a1  # k=1 still looks at the runner-up for the contrast
        assert hits[0].score == pytest.approx(s1 - 0.5 * s2, abs=1e-5)
    for hits in index.search(queries, k=3):
        s_top = hits[0].similarity
        assert [h.score for h in hits[1:]] == pytest.approx([h.similarity - 0.5 * s_top for h in hits[1:]], abs=1e-5)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)  # ranking unchanged


def test_contrast_zero_gives_plain_cosines_and_a_threshold_on_that_scale(card_factory) -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 40)
    artefacts = [f"A{i // 4:03d}" for i in range(40)]
    plain = GalleryIndex.from_vectors(card_factory(), np.arange(40), artefacts, vectors, contrast=0.0)
    contrasted = GalleryIndex.from_vectors(card_factory(), np.arange(40), artefacts, vectors)
    hits = plain.search(vectors[:3], k=2)
    assert all(h.score == pytest.approx(h.similarity) for row in hits for h in row)
    assert plain.calibration["contrast"] == 0.0 and contrasted.calibration["contrast"] == 0.5
    assert plain.threshold is not None and contrasted.threshold is not None
    assert contrasted.threshold < plain.threshold  # scores shrink by half the runner-up's cosine
    with pytest.raises(BadInputError, match="contrast"):
        GalleryIndex(card_factory(), contrast=1.0)


def test_contrast_survives_save_and_an_old_index_keeps_plain_cosines(gallery, tmp_path: Path) -> None:
    index, _, _ = gallery
    index.save(tmp_path / "v1")
    assert GalleryIndex.load(tmp_path / "v1").contrast == 0.5
    meta = json.loads((tmp_path / "v1" / "meta.json").read_text())
    del meta["options"]["contrast"]  # written before the contrast score existed
    (tmp_path / "v1" / "meta.json").write_text(json.dumps(meta))
    assert GalleryIndex.load(tmp_path / "v1").contrast == 0.0


def test_a_gallery_photo_finds_itself_with_its_photo_id(gallery) -> None:
    index, vectors, _ = gallery
    hits = index.search(vectors[7:8], k=10)[0]
    assert (hits[0].artefact_id, hits[0].photo_id) == ("A001", 107)
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 10 and len({h.artefact_id for h in hits}) == 10


def test_index_has_a_versioned_card_and_a_calibrated_threshold(gallery, card_factory) -> None:
    index, _, _ = gallery
    assert index.version.endswith(f"-{card_version(card_factory())}-40")
    assert index.threshold is not None and -1 <= index.threshold <= 1
    assert index.calibration["n_photos"] == 40


def test_add_and_remove_an_artefact_without_rebuild(gallery) -> None:
    index, vectors, _ = gallery
    extra = unit(np.random.default_rng(3), 2)
    index.add([500, 501], ["NEW", "NEW"], extra)
    assert index.search(extra[:1], k=1)[0][0].artefact_id == "NEW"
    assert index.remove_artefact("A001") == 4
    assert index.ntotal == 38 and "A001" not in index.artefacts
    hits = index.search(vectors[4:8], k=10)
    assert all(h.artefact_id != "A001" for row in hits for h in row)
    assert index.remove_artefact("nope") == 0


def test_add_refuses_known_ids_and_wrong_shapes(gallery) -> None:
    index, vectors, _ = gallery
    with pytest.raises(BadInputError, match="already in the index"):
        index.add([100], ["A000"], vectors[:1])
    with pytest.raises(BadInputError, match="shape"):
        index.add([900], ["X"], np.zeros((1, 3), np.float32))
    with pytest.raises(BadInputError, match="as many"):
        index.add([900, 901], ["X"], vectors[:2])


def test_save_load_round_trip(gallery, tmp_path: Path, card_factory) -> None:
    index, vectors, _ = gallery
    index.remove_artefact("A002")
    index.save(tmp_path / "idx")
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["index.faiss", "meta.json"]
    loaded = GalleryIndex.load(tmp_path / "idx", expect_card=card_factory())
    assert loaded.version == index.version and loaded.threshold == index.threshold
    assert loaded.artefact_of == index.artefact_of
    assert loaded.search(vectors[:6], 5) == index.search(vectors[:6], 5)
    GalleryIndex.load(tmp_path / "idx", expect_card_version=card_version(card_factory()))


def test_load_refuses_an_index_built_by_another_descriptor(gallery, tmp_path: Path, card_factory) -> None:
    index, _, _ = gallery
    index.save(tmp_path / "idx")
    other = card_factory(weights="cd" * 32)
    with pytest.raises(IndexMismatchError, match="weights_sha256") as err:
        GalleryIndex.load(tmp_path / "idx", expect_card=other)
    assert isinstance(err.value, LootwatchError)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        GalleryIndex.load(tmp_path / "idx", expect_card_version=card_version(other))
    renamed = card_factory(name="other-name")
    with pytest.raises(IndexMismatchError, match="name"):
        GalleryIndex.load(tmp_path / "idx", expect_card=renamed.to_dict())


def test_load_refuses_missing_or_mismatched_files(gallery, tmp_path: Path) -> None:
    index, _, _ = gallery
    with pytest.raises(IndexNotFoundError, match="no gallery index"):
        GalleryIndex.load(tmp_path / "nothing")
    index.save(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "meta.json").read_text())
    meta["index_sha256"] = "0" * 64
    (tmp_path / "idx" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IndexNotFoundError, match="does not match"):
        GalleryIndex.load(tmp_path / "idx")


def test_hnsw_removal_by_tombstones_and_compaction(card_factory, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    vectors = unit(rng, 400)
    artefacts = [f"A{i // 2:03d}" for i in range(400)]
    index = GalleryIndex.from_vectors(card_factory(), np.arange(400), artefacts, vectors, kind="hnsw")
    assert index.search(vectors[10:11], 1)[0][0].artefact_id == "A005"
    index.remove_artefact("A005")
    assert index.tombstones == {10, 11}
    assert all(h.artefact_id != "A005" for h in index.search(vectors[10:11], 5)[0])
    index.save(tmp_path / "h")
    loaded = GalleryIndex.load(tmp_path / "h")
    assert loaded.tombstones == {10, 11}
    assert all(h.artefact_id != "A005" for h in loaded.search(vectors[10:11], 5)[0])
    removed = sorted({*artefacts} - {"A005"})[:40]
    for a in removed:  # more than 64 tombstones: the graph is rebuilt without them
        index.remove_artefact(a)
    assert index.ntotal == 400 - 82
    assert index._index.ntotal < 400 and index._index.ntotal == index.ntotal + len(index.tombstones)
    assert not {h.artefact_id for row in index.search(vectors[:120], 3) for h in row} & {*removed, "A005"}
    assert index.search(vectors[399:400], 1)[0][0].photo_id in (398, 399)


def test_ivfpq_needs_a_gallery_big_enough_to_train(card_factory) -> None:
    with pytest.raises(BadInputError, match="ivfpq index needs at least"):
        GalleryIndex.from_vectors(card_factory(), [1, 2], ["a", "b"], unit(np.random.default_rng(5), 2), kind="ivfpq")
    with pytest.raises(BadInputError, match="unknown index kind"):
        GalleryIndex(card_factory(), kind="lsh")


def test_build_embeds_photos_and_calibrates_on_restaged_copies(hist_descriptor, coil_dir: Path) -> None:

    photos = [
        GalleryPhoto(f"A{n}", coil_dir / obj / f"{angle:03d}.png", photo_id=10 * n + i)
        for n, obj in enumerate(["obj002", "obj003", "obj004"])
        for i, angle in enumerate((0, 90, 180))
    ]
    index = GalleryIndex.build(hist_descriptor, photos, batch_size=4)
    assert index.ntotal == 9 and index.artefacts == {"A0", "A1", "A2"}
    assert index.calibration["queries"] == "restaged gallery photos"
    assert index.calibration["n_queries"] == 18 and index.threshold is not None
    hits = index.search(hist_descriptor.embed([photos[4].pixels()]), k=3)[0]
    assert hits[0].photo_id == 11 and hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(BadInputError, match="no photos"):
        GalleryIndex.build(hist_descriptor, [])


def test_auto_is_exact_up_to_the_cut_over_then_the_measured_approximate_setting(
    card_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lootwatch.matcher import index as index_module
    from lootwatch.matcher.index import AUTO_APPROXIMATE, AUTO_EXACT_MAX_PHOTOS, choose_kind

    assert choose_kind(AUTO_EXACT_MAX_PHOTOS) == ("flat", {})
    kind, options = choose_kind(AUTO_EXACT_MAX_PHOTOS + 1)
    assert (kind, options) == (AUTO_APPROXIMATE[0], AUTO_APPROXIMATE[1]) and options is not AUTO_APPROXIMATE[1]
    rng = np.random.default_rng(6)
    vectors = unit(rng, 300)
    artefacts = [f"A{i // 3:03d}" for i in range(300)]
    small = GalleryIndex.from_vectors(card_factory(), np.arange(300), artefacts, vectors, kind="auto")
    assert small.kind == "flat"
    # the same gallery over a lowered cut-over: the approximate kind, with its measured options,
    # an option given explicitly still winning; the artefact ranking stays that of exact search here
    monkeypatch.setattr(index_module, "AUTO_EXACT_MAX_PHOTOS", 100)
    big = GalleryIndex.from_vectors(card_factory(), np.arange(300), artefacts, vectors, kind="auto", ef_search=200)
    assert big.kind == AUTO_APPROXIMATE[0] and big.ef_search == 200
    assert big.hnsw_m == AUTO_APPROXIMATE[1]["hnsw_m"]
    q = unit(rng, 20)
    assert [[h.artefact_id for h in r] for r in big.search(q, 3)] == [
        [h.artefact_id for h in r] for r in small.search(q, 3)
    ]
    with pytest.raises(BadInputError, match="auto"):
        GalleryIndex(card_factory(), kind="auto")


def test_ivfflat_searches_full_vectors_in_the_probed_lists(card_factory, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 10_000
    vectors = unit(rng, n)
    artefacts = [f"A{i // 4:04d}" for i in range(n)]
    exact = GalleryIndex.from_vectors(card_factory(), np.arange(n), artefacts, vectors, calibrate=False)
    ivf = GalleryIndex.from_vectors(card_factory(), np.arange(n), artefacts, vectors, kind="ivfflat", calibrate=False)
    # queries next to gallery photos: their list is probed, the scores are the exact cosines
    q = vectors[:50] + 0.01 * rng.normal(size=(50, vectors.shape[1])).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    for a, b in zip(ivf.search(q, 1), exact.search(q, 1), strict=True):
        assert a[0].artefact_id == b[0].artefact_id and a[0].similarity == pytest.approx(b[0].similarity, abs=1e-5)
    ivf.remove_photos([0, 1, 2, 3])
    assert "A0000" not in {h.artefact_id for h in ivf.search(q[:1], 3)[0]}
    ivf.save(tmp_path / "ivf")
    assert GalleryIndex.load(tmp_path / "ivf").kind == "ivfflat"
    with pytest.raises(BadInputError, match="cannot read its vectors back"):
        ivf.vectors()
    with pytest.raises(BadInputError, match="ivfflat index needs at least"):
        GalleryIndex.from_vectors(card_factory(), [1, 2], ["a", "b"], vectors[:2], kind="ivfflat")
