"""Registry and model directories: names, overrides, strict loading, clear errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from spectrolab.errors import ModelError, OutputExistsError
from spectrolab.models import registry
from spectrolab.models.registry import (
    count_parameters,
    create_model,
    list_models,
    load_model_dir,
    register_model,
    save_model_dir,
    store_weights,
)


@register_model("test/tiny_mlp", task="test", hidden=4)
def tiny_mlp(*, hidden: int, classes: int = 3) -> nn.Module:
    """A two-layer perceptron used by these tests."""
    return nn.Sequential(nn.Linear(5, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def test_create_with_defaults_and_overrides():
    model = create_model("test/tiny_mlp", classes=7)
    assert model[0].out_features == 4 and model[2].out_features == 7
    assert count_parameters(model) == 5 * 4 + 4 + 4 * 7 + 7
    assert "test/tiny_mlp" in list_models("test") and "test/tiny_mlp" not in list_models("tagging")
    assert registry.model_info("test/tiny_mlp").description == "A two-layer perceptron used by these tests."


def test_save_load_roundtrip_is_exact(tmp_path):
    model = create_model("test/tiny_mlp", hidden=6)
    save_model_dir(model, tmp_path / "m", metadata={"labels": ["a", "b", "c"]})
    loaded = load_model_dir(tmp_path / "m")
    assert loaded.name == "test/tiny_mlp" and loaded.metadata == {"labels": ["a", "b", "c"]}
    x = torch.randn(2, 5)
    torch.testing.assert_close(loaded.model(x), model.eval()(x), rtol=0, atol=0)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["args"] == {"hidden": 6, "classes": 3} and config["spectrolab_version"]


def test_half_precision_weights_halve_the_file_and_load_as_float32(tmp_path):
    model = create_model("test/tiny_mlp", hidden=64)
    save_model_dir(model, tmp_path / "full", metadata={"labels": ["a", "b", "c"]})
    store_weights(tmp_path / "full", tmp_path / "half", weights_dtype="float16")
    full, half = load_model_dir(tmp_path / "full"), load_model_dir(tmp_path / "half")
    sizes = [(tmp_path / d / "model.safetensors").stat().st_size for d in ("full", "half")]
    assert sizes[1] < 0.6 * sizes[0]
    for (key, a), (_, b) in zip(full.model.state_dict().items(), half.model.state_dict().items(), strict=True):
        assert b.dtype == torch.float32, key  # loaded into the model's own precision
        torch.testing.assert_close(b, a.half().float(), rtol=0, atol=0)  # exactly float16's rounding
    stored = half.metadata["stored"]
    assert half.metadata["labels"] == ["a", "b", "c"] and stored["from_sha256"] == full.sha256
    weights = torch.cat([v.reshape(-1) for v in full.model.state_dict().values()])
    assert stored["max_abs_change"] == float((weights.half().float() - weights).abs().max()) > 0
    assert 0 < stored["max_relative_change"] <= 2**-11  # float16's rounding: half a unit in the last place
    assert json.loads((tmp_path / "half" / "config.json").read_text())["weights_dtype"] == "float16"
    x = torch.randn(4, 5)
    torch.testing.assert_close(half.model(x), full.model(x), rtol=1e-2, atol=1e-3)


def test_weights_beyond_half_precision_are_refused_by_name(tmp_path):
    model = create_model("test/tiny_mlp")
    with torch.no_grad():
        model[2].bias[1] = 1e6
    with pytest.raises(ModelError, match=r"'2\.bias'.*float16"):
        save_model_dir(model, tmp_path / "m", weights_dtype="float16")
    assert not (tmp_path / "m").exists()  # nothing half-written
    with pytest.raises(ModelError, match="weights_dtype"):
        save_model_dir(model, tmp_path / "m", weights_dtype="int8")


def test_no_pickle_in_model_dir(tmp_path):
    save_model_dir(create_model("test/tiny_mlp"), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_refuses_overwrite(tmp_path):
    save_model_dir(create_model("test/tiny_mlp"), tmp_path)
    with pytest.raises(OutputExistsError, match="--force"):
        save_model_dir(create_model("test/tiny_mlp"), tmp_path)
    save_model_dir(create_model("test/tiny_mlp"), tmp_path, force=True)


def test_strict_loading_names_the_mismatch(tmp_path):
    save_model_dir(create_model("test/tiny_mlp"), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["args"]["hidden"] = 8
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="do not match"):
        load_model_dir(tmp_path)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: (d / "config.json").unlink(), "not a model directory"),
        (lambda d: (d / "model.safetensors").unlink(), "missing model.safetensors"),
        (lambda d: (d / "config.json").write_text("{not json"), "invalid JSON"),
        (lambda d: (d / "config.json").write_text('{"name": "x"}'), "missing key"),
    ],
)
def test_broken_dirs(tmp_path, corrupt, message):
    save_model_dir(create_model("test/tiny_mlp"), tmp_path)
    corrupt(tmp_path)
    with pytest.raises(ModelError, match=message):
        load_model_dir(tmp_path)


def test_unknown_name_and_unsaveable_model(tmp_path):
    with pytest.raises(ModelError, match="unknown model 'test/tiny_mpl'"):
        create_model("test/tiny_mpl")
    with pytest.raises(ModelError, match="create_model"):
        save_model_dir(nn.Linear(2, 2), tmp_path)


def test_unknown_argument_is_a_model_error():
    with pytest.raises(ModelError, match=r"tiny_mlp.*unexpected keyword"):
        create_model("test/tiny_mlp", depth=3)
