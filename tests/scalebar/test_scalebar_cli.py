"""`ide scalebar IMAGE [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from imagedataextractor.cli import main


def test_json_output(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["scalebar", str(data_dir / "scalebar" / "1cb46bfdd5.png"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert set(record) == {"text", "value", "unit", "length_px", "nm_per_px"}
    assert (record["value"], record["unit"]) == (100.0, "nm")
    assert abs(record["length_px"] - 187.31) < 0.02 * 187.31
    assert abs(record["nm_per_px"] - 100 / 187.31) < 0.02 * 100 / 187.31


def test_human_line(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["scalebar", str(data_dir / "scalebar" / "2242820128.png")])
    assert result.exit_code == 0, result.output
    assert "1 um" in result.output and "nm/px" in result.output and len(result.output.splitlines()) == 1


def test_no_scalebar_prints_nulls(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.fromarray(np.full((64, 64), 90, np.uint8)).save(path)
    as_json = CliRunner().invoke(main, ["scalebar", str(path), "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output) == dict.fromkeys(["text", "value", "unit", "length_px", "nm_per_px"])
    human = CliRunner().invoke(main, ["scalebar", str(path)])
    assert "no scalebar found" in human.output


def test_missing_file_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["scalebar", str(tmp_path / "nope.png")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path / 'nope.png'}: no such file"


def test_non_image_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    result = CliRunner().invoke(main, ["scalebar", str(path), "--json"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "not an image file" in result.output


def test_help_lists_the_command() -> None:
    result = CliRunner().invoke(main, ["scalebar", "--help"])
    assert result.exit_code == 0 and "--json" in result.output
