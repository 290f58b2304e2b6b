"""Publication-level splits, statistics, validation and map comparison."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from dataset_helpers import squares, write_png
from PIL import Image

from imagedataextractor.cli import main
from imagedataextractor.datasets.layout import read_split_file, write_instance_map, write_split_file
from imagedataextractor.datasets.tools import (
    compare_instance_maps,
    dataset_stats,
    split_by_publication,
    validate_dataset,
    write_split,
    write_stats,
)
from imagedataextractor.errors import DatasetError

#: Images per publication of the split fixture; "" = no DOI.
PUBLICATIONS = {"10.1/a": 5, "10.1/b": 1, "10.1/c": 3, "10.1/d": 2, "10.1/e": 4, "10.1/f": 1, "": 2}


@pytest.fixture
def publications(tmp_path: Path, make_sample) -> Path:
    root = tmp_path / "set"
    for doi, count in PUBLICATIONS.items():
        for index in range(count):
            make_sample(root, f"{doi.replace('/', '_') or 'nodoi'}_{index}", squares(2), doi)
    return root


@pytest.mark.parametrize("seed", range(8))
def test_split_never_puts_one_publication_on_both_sides(publications: Path, seed: int) -> None:
    split = split_by_publication(publications, test_fraction=0.3, seed=seed)
    dois = pd.read_csv(publications / "metadata.csv", dtype=str, keep_default_na=False)
    doi_of = {Path(f).stem: d for f, d in zip(dois["filename"], dois["doi"])}
    assert set(split.train) | set(split.test) == set(doi_of) and not set(split.train) & set(split.test)
    assert not {doi_of[s] for s in split.train if doi_of[s]} & {doi_of[s] for s in split.test if doi_of[s]}
    assert 1 <= len(split.test) <= round(0.3 * 18)
    assert split.n_train_publications + split.n_test_publications == len(PUBLICATIONS) - 1 + 2  # each no-DOI image alone


def test_split_is_reproducible_and_seeds_differ(publications: Path) -> None:
    splits = [split_by_publication(publications, test_fraction=0.3, seed=seed).test for seed in (1, 1, 2, 3)]
    assert splits[0] == splits[1]
    assert len({splits[1], splits[2], splits[3]}) > 1


def test_split_files_and_cli(publications: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["dataset", "split", str(publications), "--by", "publication", "--test-fraction", "0.25", "--seed", "4", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    train, test = read_split_file(publications / "train.csv"), read_split_file(publications / "test.csv")
    assert (len(train), len(test)) == (summary["n_train"], summary["n_test"]) and len(train) + len(test) == 18
    result = runner.invoke(main, ["dataset", "split", str(publications), "--test-fraction", "0.25"])
    assert result.exit_code == 1 and "split file exists" in result.output
    assert runner.invoke(main, ["dataset", "split", str(publications), "--test-fraction", "0.5", "--force"]).exit_code == 0
    assert validate_dataset(publications).ok


def test_split_refuses_bad_fractions_and_single_publications(tmp_path: Path, make_sample) -> None:
    make_sample(tmp_path, "a", squares(1), "10.1/x")
    make_sample(tmp_path, "b", squares(1), "10.1/x")
    with pytest.raises(DatasetError, match="at least two"):
        split_by_publication(tmp_path, test_fraction=0.5)
    with pytest.raises(DatasetError, match="between 0 and 1"):
        split_by_publication(tmp_path, test_fraction=1.0)


def test_stats_tables_and_histograms(tmp_path: Path, make_sample) -> None:
    make_sample(tmp_path, "a", squares(3, seed=1), "10.1/a")
    labels = np.zeros((40, 30), np.uint16)
    labels[0:10, 0:10] = 4
    make_sample(tmp_path, "b", labels)
    stats = dataset_stats(tmp_path)
    assert stats.images.to_dict("records") == [
        {"name": "a", "doi": "10.1/a", "width_px": 48, "height_px": 48, "n_particles": 3},
        {"name": "b", "doi": "", "width_px": 30, "height_px": 40, "n_particles": 1},
    ]
    b = stats.particles[stats.particles["name"] == "b"].iloc[0]
    assert (b["instance_id"], b["area_px"]) == (4, 100) and b["equivalent_diameter_px"] == pytest.approx(np.sqrt(400 / np.pi))
    result = CliRunner().invoke(main, ["dataset", "stats", str(tmp_path), "--out", str(tmp_path / "st"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n_particles"] == 4
    for name in ("images.csv", "particles.csv", "particles_per_image.png", "particle_sizes.png"):
        assert (tmp_path / "st" / name).stat().st_size > 0
    with Image.open(tmp_path / "st" / "particle_sizes.png") as image:
        assert image.size[0] > 300
    assert len(pd.read_csv(tmp_path / "st" / "particles.csv")) == 4


def test_stats_of_an_empty_set_writes_empty_tables(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "segmaps").mkdir()
    paths = write_stats(dataset_stats(tmp_path), tmp_path / "st")
    assert len(pd.read_csv(paths[1])) == 0 and paths[3].exists()


def test_validate_passes_a_clean_set(publications: Path) -> None:
    write_split(publications, split_by_publication(publications, test_fraction=0.3, seed=0))
    report = validate_dataset(publications)
    assert report.ok
    assert [(p.severity, p.item) for p in report.problems] == [("warning", "images/nodoi_0.png"), ("warning", "images/nodoi_1.png")]
    result = CliRunner().invoke(main, ["dataset", "validate", str(publications)])
    assert result.exit_code == 0


def test_validate_finds_every_kind_of_problem(tmp_path: Path, make_sample) -> None:
    root = tmp_path / "set"
    make_sample(root, "good", squares(2), "10.1/a")
    make_sample(root, "leak_train", squares(2), "10.1/leak")
    make_sample(root, "leak_test", squares(2), "10.1/leak")
    make_sample(root, "gaps", squares(3), "10.1/b")
    write_instance_map(np.where(squares(3) == 2, 0, squares(3)), root / "segmaps" / "gaps.png")
    make_sample(root, "empty", np.zeros((20, 20), np.uint16), "10.1/c")
    make_sample(root, "sized", squares(2), "10.1/d")
    write_png(root / "images" / "sized.png", 50, 48)
    make_sample(root, "broken", squares(2), "10.1/e")
    (root / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    make_sample(root, "rgbmap", squares(2), "10.1/f")
    write_png(root / "segmaps" / "rgbmap.png", 48, 48)
    write_png(root / "images" / "orphan_image.png", 20, 20)
    write_instance_map(squares(1), root / "segmaps" / "orphan_map.png")
    (root / "images" / "notes.txt").write_text("x")
    write_split_file(root / "train.csv", ["good", "leak_train", "gaps", "ghost", "good"])
    write_split_file(root / "test.csv", ["leak_test", "gaps"])

    report = validate_dataset(root)
    found = {(p.severity, p.item, p.message) for p in report.problems}
    expected_errors = {
        ("images/notes.txt", "not a .png file"),
        ("images/orphan_image.png", "no map"),
        ("segmaps/orphan_map.png", "no image"),
        ("segmaps/empty.png", "no instance"),
        ("segmaps/sized.png", "map is 48x48 px but its image is 50x48 px"),
        ("images/broken.png", "not an image file"),
        ("segmaps/rgbmap.png", "single-channel"),
        ("train.csv", "ghost is listed but images/ghost.png does not exist"),
        ("images/gaps.png", "listed in both train.csv and test.csv"),
        ("metadata.csv", "DOI 10.1/leak has 1 image(s) in train and 1 in test"),
    }
    expected_warnings = {
        ("segmaps/gaps.png", "ids are not contiguous"),
        ("train.csv", "good is listed 2 times"),
        ("images/empty.png", "in neither train.csv nor test.csv"),
    }
    for severity, expected in (("error", expected_errors), ("warning", expected_warnings)):
        for item, text in expected:
            assert any(s == severity and i == item and text in m for s, i, m in found), (severity, item, text, sorted(found))
    assert not report.ok

    result = CliRunner().invoke(main, ["dataset", "validate", str(root)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()  # progress and the summary go to stderr
    assert len(lines) == len(report.problems) and all(": " in line for line in lines)


def test_validate_strict_fails_on_warnings_and_layout_errors(tmp_path: Path, make_sample) -> None:
    make_sample(tmp_path, "a", np.where(squares(3) == 2, 0, squares(3)))
    runner = CliRunner()
    assert runner.invoke(main, ["dataset", "validate", str(tmp_path)]).exit_code == 0
    assert runner.invoke(main, ["dataset", "validate", str(tmp_path), "--strict"]).exit_code == 1
    result = runner.invoke(main, ["dataset", "validate", str(tmp_path / "nowhere"), "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["problems"][0]["message"] == "no images/ folder"


def test_compare_is_invariant_to_renaming_ids() -> None:
    reference = squares(5)
    permuted = np.array([0, 7, 3, 9, 1, 2], np.uint16)[reference]
    agreement = compare_instance_maps(permuted, reference)
    assert (agreement.foreground_agreement, agreement.id_agreement, agreement.n_matched) == (1.0, 1.0, 5)
    merged = np.where(reference == 2, 1, reference)  # two particles given one id
    agreement = compare_instance_maps(merged, reference)
    assert agreement.foreground_agreement == 1.0
    assert agreement.id_agreement == pytest.approx(1 - np.mean(reference == 2))
    assert (agreement.n_instances, agreement.n_reference) == (4, 5)
    with pytest.raises(DatasetError, match="differ in size"):
        compare_instance_maps(reference[:10], reference)


def test_every_dataset_command_has_help() -> None:
    from imagedataextractor.cli.dataset import dataset_group

    runner = CliRunner()
    for name, command in dataset_group.commands.items():
        result = runner.invoke(main, ["dataset", name, "--help"])
        assert command.help, name
        assert result.exit_code == 0 and " ".join(command.help.split()[:5]) in " ".join(result.output.split()), name
