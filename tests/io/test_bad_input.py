"""Bad input gets a one-line error naming the file, never a traceback; odd formats are converted."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from imagedataextractor.cli import main
from imagedataextractor.errors import ImageError
from imagedataextractor.imageio import MAX_SIDE, read_image


def _png(path, array):
    Image.fromarray(array).save(path)
    return path


def test_missing_non_image_truncated_and_tiny(tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    good = _png(tmp_path / "good.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (tmp_path / "trunc.png").write_bytes(good.read_bytes()[:200])
    _png(tmp_path / "one.png", np.zeros((1, 1), np.uint8))
    (tmp_path / "empty.png").write_bytes(b"")
    for name, message in [("missing.png", "no such file"), ("notes.png", "not an image"), ("trunc.png", "truncated"),
                          ("one.png", "too small"), ("empty.png", "not an image")]:
        with pytest.raises(ImageError, match=message) as info:
            read_image(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_rgba_and_16bit_greyscale_are_converted(tmp_path):
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128
    out = read_image(_png(tmp_path / "rgba.png", rgba))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8 and out[0, 0, 0] == 255 and out[0, 0, 1] == 127
    grey16 = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 60).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.tif")
    out = read_image(tmp_path / "grey16.tif")
    assert out.shape == (32, 32, 3) and out.min() == 0 and out.max() == 255


def test_decompression_bomb_size_is_refused(tmp_path):
    # A 30000 x 30000 PNG header with almost no data: refused before decoding.
    Image.new("1", (30000, 30000)).save(tmp_path / "bomb.png")
    with pytest.raises(ImageError, match="too large"):
        read_image(tmp_path / "bomb.png")


def test_large_images_are_downscaled(tmp_path):
    Image.new("L", (MAX_SIDE * 2, 100), 128).save(tmp_path / "wide.png")
    assert read_image(tmp_path / "wide.png").shape == (50, MAX_SIDE, 3)


def test_segment_cli_reports_bad_input_in_one_line(tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    result = CliRunner().invoke(main, ["segment", str(tmp_path / "notes.png"), "--out", str(tmp_path / "m.png")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error:") and "notes.png" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("flips", ["--flips", "--no-flips"])
def test_segment_cli_writes_uint16_map_at_input_size(tmp_path, flips):
    image = np.full((100, 140, 3), 30, np.uint8)
    image[30:60, 40:80] = 220
    src = _png(tmp_path / "img.png", image)
    result = CliRunner().invoke(main, ["segment", str(src), "--out", str(tmp_path / "m.png"), "--samples", "2", flips,
                                       "--uncertainty-out", str(tmp_path / "u.png"), "--json"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert output["n_particles"] >= 0
    # the provenance: what ran, with the precision "auto" resolved
    assert output["settings"]["precision"] in ("fp32", "bf16") and output["settings"]["n_samples"] == 2
    assert output["settings"]["flips"] is (flips == "--flips")
    mask = np.asarray(Image.open(tmp_path / "m.png"))
    assert mask.shape == (100, 140) and mask.dtype == np.uint16
    assert np.asarray(Image.open(tmp_path / "u.png")).shape == (100, 140)


@pytest.mark.parametrize("command", ["segment", "evaluate", "train", "extract"])
@pytest.mark.parametrize("device", ["gpu0", "cuda", "mps"])
def test_unusable_devices_are_usage_errors(tmp_path, command, device):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda is usable here")
    args = {"segment": [str(tmp_path / "img.png"), "--out", str(tmp_path / "m.png")],
            "evaluate": ["--data", str(tmp_path)], "train": ["--data", str(tmp_path)], "extract": [str(tmp_path)]}[command]
    result = CliRunner().invoke(main, [command, *args, "--device", device])
    assert result.exit_code == 2 and "--device" in result.output and "Traceback" not in result.output
    assert ("not a device" in result.output) if device == "gpu0" else (device in result.output or "CUDA" in result.output)
