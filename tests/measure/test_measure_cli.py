"""``ide measure`` on a uint16 instance map written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner
from PIL import Image

from imagedataextractor.cli import main


def write_mask(path: Path) -> None:
    labels = np.zeros((120, 120), np.uint16)
    rows, cols = np.ogrid[:120, :120]
    for index, (cy, cx, radius) in enumerate([(30.2, 30.4, 10), (80.3, 70.6, 15), (0, 110, 8)]):
        labels[(rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2] = 300 + index  # ids above 255 need 16 bits
    Image.fromarray(labels).save(path)


def test_measure_json_and_csv(tmp_path: Path) -> None:
    mask = tmp_path / "mask.png"
    write_mask(mask)
    table_path = tmp_path / "particles.csv"
    result = CliRunner().invoke(main, ["measure", str(mask), "--nm-per-px", "2", "--json", "--out", str(table_path)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["summary"]["n_particles"] == 2
    assert payload["summary"]["n_border_excluded"] == 1
    assert sorted(row["particle_id"] for row in payload["particles"]) == [300, 301, 302]
    assert payload["summary"]["diameter_median_nm"] == payload["summary"]["diameter_median_px"] * 2
    assert payload["size_histogram"]["unit"] == "nm"
    table = pd.read_csv(table_path)
    assert len(table) == 3 and "diameter_nm" in table and "area_nm2" in table


def test_measure_text_output_and_border_option(tmp_path: Path) -> None:
    mask = tmp_path / "mask.png"
    write_mask(mask)
    result = CliRunner().invoke(main, ["measure", str(mask), "--include-border"])
    assert result.exit_code == 0, result.output
    assert "3 particles counted" in result.output
    assert " px" in result.output


def test_measure_missing_file_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["measure", str(tmp_path / "absent.png")])
    assert result.exit_code == 1
    assert "no such file" in result.output
