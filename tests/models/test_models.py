"""Model bundles: shipped default, verification, refusal of foreign files, the IDE 2 importer."""

import json
from collections import OrderedDict

import pytest
import torch
from click.testing import CliRunner

from imagedataextractor.cli import main
from imagedataextractor.errors import ModelError
from imagedataextractor.models import list_models, resolve
from imagedataextractor.segment.erfnet import load_network
from imagedataextractor.segment.ide2_checkpoint import convert_ide2_state_dict, import_ide2_checkpoint
from imagedataextractor.models.registry import read_bundle, write_bundle
from imagedataextractor.segment.erfnet import BPartISNet

REFERENCE = "../shared/reference/bpartis-ide2.0.4-seg-model.pt"


def _ide2_names(state):
    """Our state_dict renamed to the original code's names (inverse of the importer's mapping)."""
    out = OrderedDict()
    conv = {"conv_v1": "conv3x1_1", "conv_h1": "conv1x3_1", "conv_v2": "conv3x1_2", "conv_h2": "conv1x3_2"}
    for key, value in state.items():
        parts = key.split(".")
        parts = [conv.get(p, p) for p in parts]
        if parts[:2] == ["encoder", "stem"]:
            name = ["encoder", "initial_block"] + parts[3:] if parts[2] == "0" else ["encoder", "layers", "0"] + parts[3:]
        elif parts[:2] == ["encoder", "blocks"]:
            name = ["encoder", "layers", str(int(parts[2]) + 1)] + parts[3:]
        else:
            decoder = "0" if parts[0] == "embedding_decoder" else "1"
            rest = ["output_conv"] + parts[2:] if parts[1] == "head" else parts[1:]
            name = ["decoders", decoder] + rest
        out[".".join(name)] = value
    out["encoder.output_conv.weight"] = torch.zeros(5, 128, 1, 1)
    return out


def test_shipped_model_is_found_and_verified():
    bundle = resolve()
    assert bundle.name == "bpartis-emps" and bundle.verify()
    assert any(b.name == "bpartis-emps" for b in list_models())
    assert isinstance(load_network(bundle), BPartISNet)


def test_importer_round_trips_an_original_format_state_dict(tmp_path):
    torch.manual_seed(0)
    ours = BPartISNet().state_dict()
    original = _ide2_names(ours)
    torch.save(original, tmp_path / "seg-model.pt")
    bundle = import_ide2_checkpoint(tmp_path / "seg-model.pt", tmp_path / "imported")
    assert bundle.verify() and bundle.config["tu"] == 0.0125 and bundle.config["n_samples"] == 30
    loaded = torch.load(bundle.weights_path, weights_only=True)
    assert all(torch.equal(loaded[k], ours[k]) for k in ours)


def test_importer_refuses_foreign_checkpoints(tmp_path):
    with pytest.raises(ModelError, match="not a BPartIS"):
        convert_ide2_state_dict({"backbone.conv1.weight": torch.zeros(1)})
    bad_shape = _ide2_names(BPartISNet().state_dict())
    bad_shape["decoders.1.output_conv.weight"] = torch.zeros(2, 16, 3, 3)
    with pytest.raises(ModelError, match="shape"):
        convert_ide2_state_dict(bad_shape)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read checkpoint"):
        import_ide2_checkpoint(tmp_path / "junk.pt", tmp_path / "out")


def test_tampered_weights_are_refused(tmp_path):
    bundle = write_bundle(BPartISNet().state_dict(), tmp_path / "m", {"name": "m"})
    torch.save({"x": torch.zeros(1)}, bundle.weights_path)
    assert not read_bundle(bundle.path).verify()
    with pytest.raises(ModelError, match="sha256"):
        load_network(read_bundle(bundle.path))
    config = json.loads((bundle.path / "config.json").read_text())
    config["arch"] = "unet"
    (bundle.path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="architecture"):
        read_bundle(bundle.path)


def test_reference_checkpoint_imports_and_segments(tmp_path):
    """The published IDE 2.0.4 checkpoint (CI has ../shared/reference) loads and finds particles."""
    from pathlib import Path

    import numpy as np

    from imagedataextractor.segment import BPartISConfig, segment_bpartis

    if not Path(REFERENCE).exists():
        pytest.skip("reference checkpoint not present (only CI and developers have ../shared)")
    result = CliRunner().invoke(main, ["models", "import", REFERENCE, "--out", str(tmp_path / "ide2"), "--name", "ide2"])
    assert result.exit_code == 0, result.output
    image = np.full((128, 128, 3), 40, np.uint8)
    yy, xx = np.mgrid[:128, :128]
    for cy, cx in [(40, 40), (40, 90), (90, 64)]:
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < 15**2] = 220
    seg = segment_bpartis(image, config=BPartISConfig(model=str(tmp_path / "ide2"), mode="discriminative"))
    assert seg.labels.shape == (128, 128) and seg.labels.dtype == np.uint16
    assert seg.n_instances == 3


@pytest.mark.parametrize("content", [b"", b"\x00", b"PK\x03\x04 not a zip"])
def test_import_of_an_empty_or_garbled_file_is_a_one_line_error(tmp_path, content):
    checkpoint = tmp_path / "ckpt.pt"
    checkpoint.write_bytes(content)
    result = CliRunner().invoke(main, ["models", "import", str(checkpoint), "--out", str(tmp_path / "bundle")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith(f"Error: {checkpoint}: ") and len(result.output.strip().splitlines()) == 1, result.output
