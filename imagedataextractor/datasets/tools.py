"""Tools over an EMPS-layout directory: publication-level splits, statistics, validation and map comparison.

Validation rules (:func:`validate_dataset`); each problem is one line naming the file:

errors (the set cannot be trained on as it is)
    missing ``images/`` or ``segmaps/``; a file there that is not ``*.png``; an image or map that
    cannot be read; a map that is not a single-channel integer image; image and map of different
    sizes; an image without a map or a map without an image; a map with no instance (an
    unannotated image is not a sample); a split file naming a stem that has no image; a stem in
    both splits; a DOI with images in both splits (leakage; checked with ``metadata.csv``).
warnings (worth a look, harmless for training)
    non-contiguous ids (EMPS keeps region numbers as ids, so a region that drew nothing leaves a
    gap: three EMPS maps have one); a stem listed twice in a split file; an image in neither split
    when split files exist; a stem without a DOI when split files exist (its leakage cannot be
    checked); a ``metadata.csv`` row for a file that is not in ``images/``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..errors import DatasetError, IDEError
from ..imageio import read_image, read_instance_map
from .layout import (
    IMAGES,
    METADATA,
    SEGMAPS,
    SPLITS,
    Problem,
    doi_by_stem,
    image_size,
    list_stems,
    read_metadata,
    read_split_file,
    require_layout,
    with_progress,
    write_split_file,
)

log = logging.getLogger(__name__)


# --- publication-level split ------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSplit:
    """Stems of the train and test sets (sorted) and how many publications each holds."""

    train: tuple[str, ...]
    test: tuple[str, ...]
    n_train_publications: int
    n_test_publications: int

    def to_dict(self) -> dict:
        return {
            "n_train": len(self.train),
            "n_test": len(self.test),
            "n_train_publications": self.n_train_publications,
            "n_test_publications": self.n_test_publications,
        }


def split_by_publication(root: str | Path, *, test_fraction: float, seed: int = 0) -> DatasetSplit:
    """Split the samples of ``root`` (stems with both image and map) so no publication straddles it.

    Samples are grouped by the DOI in ``metadata.csv``; a sample without a DOI is a group of its own.
    Groups are shuffled with ``numpy.random.default_rng(seed)`` and taken into the test set, first
    fit, while the test set stays within ``round(test_fraction * n)`` samples; if no group fits, the
    smallest group is the test set. Raises :class:`DatasetError` for a fraction outside (0, 1) or a
    set with fewer than two groups.
    """
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"test fraction {test_fraction} must be between 0 and 1 (exclusive)")
    root = require_layout(Path(root))
    stems = sorted(set(list_stems(root, IMAGES)) & set(list_stems(root, SEGMAPS)))
    dois = doi_by_stem(root)
    groups: dict[str, list[str]] = defaultdict(list)
    for stem in stems:
        groups[dois.get(stem) or f"no DOI: {stem}"].append(stem)
    undated = sum(1 for key in groups if key.startswith("no DOI: "))
    if undated:
        log.warning("%s: %d sample(s) have no DOI in %s and are split as publications of their own", root, undated, METADATA)
    if len(groups) < 2:
        raise DatasetError(f"{root}: {len(stems)} sample(s) from {len(groups)} publication(s); a split needs at least two")
    keys = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    target = round(test_fraction * len(stems))
    test_keys: list[str] = []
    size = 0
    for index in order:
        key = keys[index]
        if size + len(groups[key]) <= target:
            test_keys.append(key)
            size += len(groups[key])
    if not test_keys:
        test_keys = [min(keys, key=lambda k: (len(groups[k]), k))]
    test = sorted(s for key in test_keys for s in groups[key])
    train = sorted(set(stems) - set(test))
    return DatasetSplit(tuple(train), tuple(test), len(groups) - len(test_keys), len(test_keys))


def write_split(root: str | Path, split: DatasetSplit, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write ``train.csv`` and ``test.csv``; refuses to replace existing ones unless ``overwrite``."""
    root = Path(root)
    paths = tuple(root / f"{name}.csv" for name in SPLITS)
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        raise DatasetError(f"{existing[0]}: split file exists (overwrite it explicitly to make a new split)")
    write_split_file(paths[0], split.train)
    write_split_file(paths[1], split.test)
    return paths[0], paths[1]


# --- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetStats:
    """Per-image and per-particle tables of a dataset, in pixels.

    images: one row per sample, columns ``name, doi, width_px, height_px, n_particles``.
    particles: one row per instance, columns ``name, instance_id, area_px, equivalent_diameter_px``
        (diameter of the disc of the same area).
    """

    images: pd.DataFrame
    particles: pd.DataFrame


def dataset_stats(root: str | Path, *, progress: bool = False) -> DatasetStats:
    """Particles per image and particle sizes of every sample (stem with image and map) of ``root``."""
    root = require_layout(Path(root))
    dois = doi_by_stem(root)
    stems = sorted(set(list_stems(root, IMAGES)) & set(list_stems(root, SEGMAPS)))
    image_rows, particle_frames = [], []
    for stem in with_progress(stems, enabled=progress, desc="stats"):
        labels = read_instance_map(root / SEGMAPS / f"{stem}.png")
        areas = np.bincount(labels.ravel())
        ids = np.flatnonzero(areas[1:]) + 1
        image_rows.append((stem, dois.get(stem, ""), labels.shape[1], labels.shape[0], ids.size))
        particle_frames.append(
            pd.DataFrame(
                {
                    "name": stem,
                    "instance_id": ids.astype(np.int64),
                    "area_px": areas[ids].astype(np.int64),
                    "equivalent_diameter_px": np.sqrt(4.0 * areas[ids] / math.pi),
                }
            )
        )
    images = pd.DataFrame(image_rows, columns=["name", "doi", "width_px", "height_px", "n_particles"])
    columns = ["name", "instance_id", "area_px", "equivalent_diameter_px"]
    particles = pd.concat(particle_frames, ignore_index=True) if particle_frames else pd.DataFrame(columns=columns)
    return DatasetStats(images, particles[columns])


def write_stats(stats: DatasetStats, out_dir: str | Path) -> list[Path]:
    """Write ``images.csv``, ``particles.csv``, ``particles_per_image.png`` and ``particle_sizes.png``
    (the two histograms of the EMPS paper's Fig. 3) into ``out_dir``; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "images.csv", out_dir / "particles.csv", out_dir / "particles_per_image.png", out_dir / "particle_sizes.png"]
    stats.images.to_csv(paths[0], index=False)
    stats.particles.to_csv(paths[1], index=False)

    counts = stats.images["n_particles"].to_numpy()
    figure, axes = plt.subplots(figsize=(5, 3.5), layout="constrained")
    if counts.size:
        # Log-spaced bins on integer boundaries, so no bin falls between two counts and stays empty.
        edges = np.unique(np.round(np.geomspace(1, counts.max() + 1, 30))) - 0.5
        axes.hist(counts, bins=edges.tolist(), color="tab:blue", edgecolor="white")
        axes.set_xscale("log")
    axes.set_xlabel("particles per image")
    axes.set_ylabel("images")
    axes.set_title(f"{counts.size} images, {int(counts.sum())} particles")
    figure.savefig(paths[2], dpi=150)
    plt.close(figure)

    diameters = stats.particles["equivalent_diameter_px"].to_numpy(dtype=float)
    figure, axes = plt.subplots(figsize=(5, 3.5), layout="constrained")
    if diameters.size:
        axes.hist(diameters, bins=np.geomspace(max(1.0, diameters.min()), diameters.max() + 1, 40).tolist(), color="tab:orange", edgecolor="white")
        axes.set_xscale("log")
    axes.set_xlabel("equivalent diameter (px)")
    axes.set_ylabel("particles")
    axes.set_title(f"median {np.median(diameters):.1f} px" if diameters.size else "no particles")
    figure.savefig(paths[3], dpi=150)
    plt.close(figure)
    return paths


# --- validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationReport:
    """The problems found in a dataset directory (see the module docstring for the rules)."""

    root: Path
    n_images: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "n_images": self.n_images,
            "ok": self.ok,
            "problems": [{"item": p.item, "message": p.message, "severity": p.severity} for p in self.problems],
        }


def _check_files(root: Path, problems: list[Problem]) -> None:
    for folder in (IMAGES, SEGMAPS):
        for path in sorted((root / folder).iterdir()):
            if path.suffix != ".png" or not path.is_file():
                problems.append(Problem(f"{folder}/{path.name}", "not a .png file (the layout needs <stem>.png)"))


def _check_sample(root: Path, stem: str, problems: list[Problem]) -> None:
    image_item, map_item = f"{IMAGES}/{stem}.png", f"{SEGMAPS}/{stem}.png"
    try:
        read_image(root / image_item)
        size = image_size(root / image_item)
    except IDEError as exc:
        problems.append(Problem(image_item, str(exc).removeprefix(f"{root / image_item}: ")))
        size = None
    try:
        labels = read_instance_map(root / map_item)
    except IDEError as exc:
        problems.append(Problem(map_item, str(exc).removeprefix(f"{root / map_item}: ")))
        return
    if size is not None and (labels.shape[1], labels.shape[0]) != size:
        problems.append(Problem(map_item, f"map is {labels.shape[1]}x{labels.shape[0]} px but its image is {size[0]}x{size[1]} px"))
    ids = np.flatnonzero(np.bincount(labels.ravel())[1:]) + 1
    if ids.size == 0:
        problems.append(Problem(map_item, "map has no instance (all background)"))
    elif ids[-1] != ids.size:
        problems.append(Problem(map_item, f"ids are not contiguous: {ids.size} instances, largest id {ids[-1]}", "warning"))


def _check_splits(root: Path, stems: set[str], problems: list[Problem]) -> None:
    split_stems: dict[str, list[str]] = {}
    for name in SPLITS:
        path = root / f"{name}.csv"
        if not path.exists():
            continue
        listed = read_split_file(path)
        split_stems[name] = listed
        for stem, count in Counter(listed).items():
            if count > 1:
                problems.append(Problem(path.name, f"{stem} is listed {count} times", "warning"))
            if stem not in stems:
                problems.append(Problem(path.name, f"{stem} is listed but {IMAGES}/{stem}.png does not exist"))
    if not split_stems:
        return
    train, test = set(split_stems.get("train", [])), set(split_stems.get("test", []))
    for stem in sorted(train & test):
        problems.append(Problem(f"{IMAGES}/{stem}.png", "listed in both train.csv and test.csv"))
    for stem in sorted(stems - train - test):
        problems.append(Problem(f"{IMAGES}/{stem}.png", "in neither train.csv nor test.csv", "warning"))
    dois = doi_by_stem(root)
    for stem in sorted((train | test) & stems - set(dois)):
        problems.append(Problem(f"{IMAGES}/{stem}.png", f"no DOI in {METADATA}: split leakage cannot be checked", "warning"))
    by_doi: dict[str, dict[str, int]] = defaultdict(lambda: {"train": 0, "test": 0})
    for name, members in (("train", train), ("test", test)):
        for stem in members:
            if stem in dois:
                by_doi[dois[stem]][name] += 1
    for doi, counts in sorted(by_doi.items()):
        if counts["train"] and counts["test"]:
            problems.append(Problem(METADATA, f"DOI {doi} has {counts['train']} image(s) in train and {counts['test']} in test (split leakage)"))


def validate_dataset(root: str | Path, *, progress: bool = False) -> ValidationReport:
    """Check an EMPS-layout directory and list every problem (rules in the module docstring).

    Every image and map is decoded, so this reads the whole set (EMPS: about 10 s).
    """
    root = Path(root)
    problems: list[Problem] = []
    for folder in (IMAGES, SEGMAPS):
        if not (root / folder).is_dir():
            problems.append(Problem(str(root), f"no {folder}/ folder"))
    if problems:
        return ValidationReport(root, 0, tuple(problems))
    _check_files(root, problems)
    images, maps = set(list_stems(root, IMAGES)), set(list_stems(root, SEGMAPS))
    for stem in sorted(images - maps):
        problems.append(Problem(f"{IMAGES}/{stem}.png", f"no map ({SEGMAPS}/{stem}.png missing)"))
    for stem in sorted(maps - images):
        problems.append(Problem(f"{SEGMAPS}/{stem}.png", f"no image ({IMAGES}/{stem}.png missing)"))
    samples = sorted(images & maps)
    for stem in with_progress(samples, enabled=progress, desc="validate"):
        _check_sample(root, stem, problems)
    _check_splits(root, images, problems)
    try:
        listed = set(read_metadata(root)["filename"])
    except DatasetError as exc:
        problems.append(Problem(METADATA, str(exc).removeprefix(f"{root / METADATA}: ")))
    else:
        for filename in sorted(listed - {f"{stem}.png" for stem in images} - {""}):
            problems.append(Problem(METADATA, f"row for {filename}, which is not in {IMAGES}/", "warning"))
    return ValidationReport(root, len(images), tuple(problems))


# --- comparing two annotations of the same images -----------------------------------------------


@dataclass(frozen=True)
class MapAgreement:
    """How well an instance map agrees with a reference map of the same image.

    foreground_agreement: fraction of pixels where both are background or both foreground.
    id_agreement: fraction of pixels with the same label after renaming the map's ids onto the
        reference's by the one-to-one assignment that maximises total IoU (unassigned ids never agree).
    n_instances, n_reference: instances present in each map.
    n_matched: pairs with IoU > 0.5 (such a match is unique on both sides).
    """

    foreground_agreement: float
    id_agreement: float
    n_instances: int
    n_reference: int
    n_matched: int


def compare_instance_maps(labels: np.ndarray, reference: np.ndarray) -> MapAgreement:
    """Compare two (H, W) instance maps of the same image; raises :class:`DatasetError` on a shape mismatch."""
    from ..labelmaps import iou_matrix

    labels, reference = np.asarray(labels), np.asarray(reference)
    if labels.shape != reference.shape:
        raise DatasetError(f"maps differ in size: {labels.shape} vs reference {reference.shape}")
    foreground = float(np.mean((labels > 0) == (reference > 0)))
    iou = iou_matrix(reference, labels)  # rows: reference ids ascending; columns: labels' ids ascending
    ids = np.flatnonzero(np.bincount(labels.ravel())[1:]) + 1
    reference_ids = np.flatnonzero(np.bincount(reference.ravel())[1:]) + 1
    renamed = np.zeros(int(labels.max()) + 1 if labels.size else 1, np.int64)
    renamed[ids] = -1  # an id without a partner matches no reference pixel
    if iou.size:
        rows, cols = linear_sum_assignment(iou, maximize=True)
        keep = iou[rows, cols] > 0
        renamed[ids[cols[keep]]] = reference_ids[rows[keep]]
    id_agreement = float(np.mean(renamed[labels] == reference))
    return MapAgreement(foreground, id_agreement, int(ids.size), int(reference_ids.size), int(np.count_nonzero(iou > 0.5)))


def compare_datasets(root: str | Path, reference_root: str | Path, *, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Compare the maps of ``root`` with those of ``reference_root``, stem by stem.

    Returns one row per stem present in both (or per stem of ``names``), columns ``name`` and the
    fields of :class:`MapAgreement`. Raises :class:`DatasetError` for a stem of ``names`` missing on a side.
    """
    root, reference_root = require_layout(Path(root)), require_layout(Path(reference_root))
    if names is None:
        names = sorted(set(list_stems(root, SEGMAPS)) & set(list_stems(reference_root, SEGMAPS)))
    rows = []
    for name in names:
        paths = (root / SEGMAPS / f"{name}.png", reference_root / SEGMAPS / f"{name}.png")
        for path in paths:
            if not path.exists():
                raise DatasetError(f"{path}: no such map")
        agreement = compare_instance_maps(read_instance_map(paths[0]), read_instance_map(paths[1]))
        rows.append({"name": name, **agreement.__dict__})
    columns = ["name", *MapAgreement.__dataclass_fields__]
    return pd.DataFrame(rows, columns=columns)


def summarise_agreement(frame: pd.DataFrame) -> dict[str, float]:
    """Means over images of the agreements of :func:`compare_datasets`, and the pooled fraction of
    reference instances matched at IoU > 0.5."""
    if frame.empty:
        return {"n_images": 0}
    return {
        "n_images": int(len(frame)),
        "foreground_agreement": float(frame["foreground_agreement"].mean()),
        "id_agreement": float(frame["id_agreement"].mean()),
        "matched_fraction": float(frame["n_matched"].sum() / max(1, frame["n_reference"].sum())),
        "n_reference": int(frame["n_reference"].sum()),
        "n_instances": int(frame["n_instances"].sum()),
        "n_matched": int(frame["n_matched"].sum()),
        "worst_id_agreement": float(frame["id_agreement"].min()),
    }
