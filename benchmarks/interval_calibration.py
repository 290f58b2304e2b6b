"""Calibration of the 95 % confidence interval of a panel's mean particle diameter.

Checks, each decided by a rule fixed before the run (issue 31):

1. ``synthetic``: micrographs drawn with known particle diameters (lognormal, a known mean) and a
   drawn scalebar (``synth.draw_scalebar``), run through the panel stages as ``extract`` runs them
   (scalebar read, bar blanked, BPartIS with its defaults, ``measure`` with the intervals). The
   truth is the mean diameter (nm) of the distribution the particles were drawn from; target: the
   interval covers it in 90-99 % of the micrographs. Also reported: coverage of the mean of the
   drawn particles lying wholly inside the image (what a hand label would measure).
2. ``emps``: the EMPS test images with at least 30 hand-labelled particles; the truth is the mean
   equivalent diameter (px; EMPS images have no readable scale) of the hand-labelled particles not
   touching the border, measured by ``measure`` like the prediction; reported: the share of
   images whose interval covers it.

Both use the method's stored relative systematic error s (the BPartIS bundle's
``systematic_rel_sd``, ``segment.methods.SYSTEMATIC_REL_SD`` for classical methods), estimated by
3. ``systematic``: on the EMPS train split's validation publications (held out when bpartis-emps
   was trained), images with >= 30 hand-labelled particles, the same truth as ``emps``:
   s^2 = max(0, mean(r_i^2) - mean(v_i)), r_i = log(predicted / true mean), v_i the sampling
   variance of the log mean read from the interval without the term.

Segmentations are cached (``--cache``, outside git) so the interval arithmetic can be rerun cheaply;
BPartIS's before its uncertainty filter, so its threshold tu (the one in ``/work/tu-decision.md``
when that names one, else the bundle's) is applied afterwards. ``cache`` only segments.

    python benchmarks/interval_calibration.py cache --images validation|test|synthetic [--first 10000 --n 100] [--method watershed]
    python benchmarks/interval_calibration.py systematic --emps ../shared/emps [--method watershed]
    python benchmarks/interval_calibration.py synthetic --first 10000 --n 100 [--method watershed]
    python benchmarks/interval_calibration.py emps --emps ../shared/emps [--method watershed]
    python benchmarks/interval_calibration.py emps --labels-from MAPS_DIR --labels-key filtered   # maps segmented elsewhere
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from scipy import ndimage as ndi

from imagedataextractor.datasets.emps import load_split
from imagedataextractor.intervals import log_mean_variance, random_effects_sd
from imagedataextractor.measure import MeasureConfig, measure, scale_relative_sd
from imagedataextractor.scalebar import read_scalebar, scalebar_mask
from imagedataextractor.imageio import as_rgb
from imagedataextractor.segment import BPartISConfig, segment
from imagedataextractor.segment.cluster import cluster_outputs
from imagedataextractor.segment.masking import blank_regions, remove_border_instances
from imagedataextractor.segment.methods import SYSTEMATIC_REL_SD
from imagedataextractor.segment.predict import get_bpartis, to_image_size
from imagedataextractor.segment.uncertainty import instance_uncertainty, keep_instances
from imagedataextractor.synth import ScalebarStyle, draw_scalebar
from imagedataextractor.train.loop import split_by_publication

SIZE_PX = 512
#: Share of the train split's publications held out for validation when bpartis-emps was trained.
VAL_FRACTION = 0.1
DEFAULT_CACHE = Path.home() / ".cache" / "imagedataextractor-bench" / "intervals"


def synthetic_micrograph(seed: int) -> tuple[np.ndarray, float, float, float]:
    """(image (512, 512, 3) uint8, nm_per_px, mean diameter of the generating distribution in nm,
    mean diameter in nm of the drawn particles wholly inside the image)."""
    rng = np.random.default_rng(seed)
    mean_px = rng.uniform(18, 40)
    cv = rng.uniform(0.1, 0.3)
    sigma = np.sqrt(np.log1p(cv**2))
    mu = np.log(mean_px) - sigma**2 / 2  # lognormal with mean mean_px
    background = rng.uniform(140, 200)
    image = background + ndi.gaussian_filter(rng.normal(0, 25, (SIZE_PX, SIZE_PX)), rng.uniform(8, 30))
    rows, cols = np.ogrid[:SIZE_PX, :SIZE_PX]
    occupied = np.zeros((SIZE_PX, SIZE_PX), bool)
    occupied[SIZE_PX - 70 :, SIZE_PX - 220 :] = True  # room for the scalebar
    inside = []
    target = int(rng.integers(30, 80))
    for _ in range(target * 20):
        if len(inside) >= target:
            break
        diameter = float(np.exp(rng.normal(mu, sigma)))
        cy, cx = rng.uniform(-diameter / 4, SIZE_PX + diameter / 4, 2)
        disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= (diameter / 2) ** 2
        grown = ndi.binary_dilation(disc, iterations=3)
        if not disc.any() or (grown & occupied).any():
            continue
        occupied |= disc
        image[disc] -= rng.uniform(60, 100)
        ys, xs = np.nonzero(disc)
        if ys.min() > 0 and xs.min() > 0 and ys.max() < SIZE_PX - 1 and xs.max() < SIZE_PX - 1:
            inside.append(np.sqrt(4 * disc.sum() / np.pi))
    image = ndi.gaussian_filter(image, 1.0) + rng.normal(0, rng.uniform(4, 10), image.shape)
    rgb = np.repeat(np.clip(image, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    length_px = int(rng.integers(90, 170))
    value = 100.0
    rgb, truth = draw_scalebar(rgb, text="100 nm", value=value, unit="nm", length_px=length_px, style=ScalebarStyle(box_padding_px=6))
    nm_per_px = truth.nm_per_px
    return rgb, nm_per_px, mean_px * nm_per_px, float(np.mean(inside)) * nm_per_px


def cached_segmentation(cache: Path, key: str, image: np.ndarray, method: str, tu: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``method``'s (default settings) labels and foreground fraction (None without MC samples) of
    ``image``, from ``cache/method/key.npz`` when there. BPartIS: see :func:`bpartis_segmentation`,
    filtered at ``tu``."""
    if method == "bpartis":
        return bpartis_segmentation(bpartis_maps(cache, key, image), image.shape[:2], tu)
    path = cache / method / f"{key}.npz"
    if path.exists():
        stored = np.load(path)
        return stored["labels"], stored["foreground"] if "foreground" in stored else None
    result = segment(image, method=method)
    path.parent.mkdir(parents=True, exist_ok=True)
    maps = {"labels": result.labels} | ({} if result.foreground_fraction is None else {"foreground": result.foreground_fraction})
    np.savez_compressed(path, **maps)
    return result.labels, result.foreground_fraction


#: File whose first ``tu = VALUE`` line, when present, sets BPartIS's uncertainty threshold here
#: (the threshold chosen on the validation publications); else the bundle's.
TU_DECISION = Path("/work/tu-decision.md")


def bpartis_tu() -> float:
    """The tu of :data:`TU_DECISION` if it names one, else the shipped bundle's."""
    if TU_DECISION.exists():
        found = re.search(r"\btu\s*=\s*([0-9.]+(?:e-?[0-9]+)?)", TU_DECISION.read_text())
        if found:
            return float(found.group(1))
    return float(get_bpartis().bundle.config.get("tu", 0.0125))


def bpartis_maps(cache: Path, key: str, image: np.ndarray) -> dict[str, np.ndarray]:
    """BPartIS's (default settings) outputs of ``image`` before its uncertainty filter, so the
    threshold tu can be chosen after the (slow) sampling: ``labels`` (S, S) the instances at the
    network's resolution, ``uncertainty`` (n,) their mean mutual information (nats, as the filter
    reads it), ``foreground`` (H, W) the foreground fraction at the image's size. Cached in
    ``cache/bpartis-unfiltered/key.npz``."""
    path = cache / "bpartis-unfiltered" / f"{key}.npz"
    if path.exists():
        return dict(np.load(path))
    model = get_bpartis()
    config = BPartISConfig(filter_uncertain=False, keep_border=True)
    outputs = model.sample(model.to_input(as_rgb(image)), config)
    defaults = model.bundle.config
    clusters = cluster_outputs(outputs.raw, seed_threshold=float(defaults.get("seed_threshold", 0.5)), min_size=int(defaults.get("min_size", 128)))
    maps = {"labels": clusters.labels.numpy().astype(np.uint16),
            "uncertainty": instance_uncertainty(clusters.labels, outputs.information).numpy(),
            "foreground": model.finish(as_rgb(image), outputs, config, 0.0).foreground_fraction}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.npz")  # renamed when whole: another process may be reading
    np.savez_compressed(partial, **maps)
    partial.replace(path)
    return maps


def bpartis_segmentation(maps: dict[str, np.ndarray], shape: tuple[int, int], tu: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels (H, W) and foreground fraction of :func:`bpartis_maps` filtered as BPartIS filters
    (instances whose mean uncertainty is not below ``tu`` dropped, at the network's resolution),
    brought to the image's ``shape`` and without border particles."""
    kept = torch.from_numpy(maps["uncertainty"]) < tu
    labels = keep_instances(torch.from_numpy(maps["labels"].astype(np.int64)), kept)
    image_labels, _ = to_image_size(labels, torch.zeros(int(kept.sum())), shape)
    return remove_border_instances(image_labels), maps["foreground"]


def run_synthetic(args: argparse.Namespace) -> dict:
    systematic = method_systematic_rel_sd(args.method)
    rows = []
    for seed in range(args.first, args.first + args.n):
        image, nm_per_px_true, population_mean, sample_mean = synthetic_micrograph(seed)
        bar = read_scalebar(image)
        blanked = blank_regions(image, scalebar_mask(image.shape, bar))
        labels, foreground = cached_segmentation(args.cache / "synthetic", f"{seed:04d}", blanked, args.method, args.tu)
        if bar.nm_per_px is None:
            rows.append({"seed": seed, "scalebar_read": False})
            continue
        measured = measure(labels, nm_per_px=bar.nm_per_px, foreground_fraction=foreground,
                           scale_rel_sd=scale_relative_sd(bar.length_px, bar.length_sd_px), systematic_rel_sd=systematic, config=MeasureConfig())
        hist = measured.size_histogram
        ci = hist.interval
        rows.append({
            "seed": seed, "scalebar_read": True, "n": hist.n, "scale_error": bar.nm_per_px / nm_per_px_true - 1,
            "mean_nm": hist.mean, "low": ci.mean_low, "high": ci.mean_high,
            "population_mean_nm": population_mean, "sample_mean_nm": sample_mean,
            "covers_population": ci.covers_mean(population_mean), "covers_sample": ci.covers_mean(sample_mean),
            "mean_sd_nm": float(np.nanmean(measured.particles["diameter_sd_nm"])) if hist.n and foreground is not None else None,
        })
        print(json.dumps(rows[-1]), flush=True)
    scored = [r for r in rows if r.get("scalebar_read") and r.get("low") is not None]
    return {
        "method": args.method, "tu": args.tu if args.method == "bpartis" else None, "systematic_rel_sd": systematic,
        "images": len(rows), "scored": len(scored),
        "coverage_population": float(np.mean([r["covers_population"] for r in scored])),
        "coverage_sample": float(np.mean([r["covers_sample"] for r in scored])),
        "median_relative_width": float(np.median([(r["high"] - r["low"]) / r["mean_nm"] for r in scored])),
        "median_relative_error": float(np.median([abs(r["mean_nm"] / r["population_mean_nm"] - 1) for r in scored])),
    }


def labelled_images(emps: Path, images: str, *, reverse: bool = False) -> Iterator[tuple[str, np.ndarray, float, int]]:
    """(name, image, hand-labelled mean equivalent diameter in px, labelled particles measured) of the
    EMPS images with at least 30 hand-labelled particles: ``images`` "test" (the test split) or
    "validation" (the train split's publications held out when bpartis-emps was trained, as
    :func:`imagedataextractor.train.loop.split_by_publication` holds them out). The truth is
    measured like a prediction: particles touching the border left out. ``reverse``: last image first
    (a second ``cache`` process meeting the first)."""
    samples = load_split(emps, "test") if images == "test" else split_by_publication(load_split(emps, "train"), VAL_FRACTION)[1]
    samples = samples[::-1] if reverse else samples
    for sample in samples:
        image, truth = sample.load()
        truth_measured = measure(truth.astype(np.int64), config=MeasureConfig(intervals=None))
        if truth_measured.summary["n_particles_total"] < 30:
            continue
        yield sample.name, image, truth_measured.size_histogram.mean, truth_measured.size_histogram.n


def run_cache(args: argparse.Namespace) -> dict:
    """Segment (and cache) the images of ``args.images`` with ``args.method``, measuring nothing."""
    if args.images == "synthetic":
        seeds = range(args.first, args.first + args.n)
        for seed in reversed(seeds) if args.reverse else seeds:
            image = synthetic_micrograph(seed)[0]
            blanked = blank_regions(image, scalebar_mask(image.shape, read_scalebar(image)))
            cached_segmentation(args.cache / "synthetic", f"{seed:04d}", blanked, args.method, args.tu)
            print(f"synthetic {seed}", flush=True)
        return {"images": args.n}
    names = []
    for name, image, _, _ in labelled_images(args.emps, args.images, reverse=args.reverse):
        cached_segmentation(args.cache / "emps", name, image, args.method, args.tu)
        names.append(name)
        print(name, flush=True)
    return {"images": len(names)}


def method_systematic_rel_sd(method: str) -> float:
    """The relative systematic error s stored with ``method``: the shipped BPartIS bundle's
    ``systematic_rel_sd``, else :data:`SYSTEMATIC_REL_SD` (0 without an estimate)."""
    if method == "bpartis":
        return float(get_bpartis().bundle.config.get("systematic_rel_sd", 0.0))
    return SYSTEMATIC_REL_SD.get(method, 0.0)


def run_systematic(args: argparse.Namespace) -> dict:
    """The random-effects estimate of ``args.method``'s relative systematic error of the mean size
    (:func:`~imagedataextractor.intervals.random_effects_sd`) on the validation images, from the
    interval without the term."""
    rows = []
    for name, image, truth_mean, n_truth in labelled_images(args.emps, "validation"):
        labels, foreground = cached_segmentation(args.cache / "emps", name, image, args.method, args.tu)
        hist = measure(labels, foreground_fraction=foreground).size_histogram
        row = {"image": name, "n_truth": n_truth, "n": hist.n, "truth_mean_px": truth_mean, "mean_px": hist.mean}
        if hist.mean is not None and hist.interval is not None and hist.interval.mean_low is not None:
            row |= {"log_ratio": float(np.log(hist.mean / truth_mean)), "log_variance": log_mean_variance(hist.interval)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    scored = [r for r in rows if "log_ratio" in r and np.isfinite(r["log_variance"])]
    ratios = np.array([r["log_ratio"] for r in scored])
    variances = np.array([r["log_variance"] for r in scored])
    return {"method": args.method, "tu": args.tu if args.method == "bpartis" else None, "images": len(rows), "scored": len(scored),
            "mean_log_ratio": float(ratios.mean()), "se_mean_log_ratio": float(ratios.std(ddof=1) / np.sqrt(len(ratios))),
            "mean_square_log_ratio": float(np.mean(ratios**2)), "mean_log_variance": float(variances.mean()),
            "systematic_rel_sd": random_effects_sd(ratios, variances)}


def run_emps(args: argparse.Namespace) -> dict:
    systematic = method_systematic_rel_sd(args.method)
    rows = []
    for name, image, truth_mean, n_truth in labelled_images(args.emps, "test"):
        if args.labels_from is not None:
            stored = args.labels_from / f"{name}.npz"
            if not stored.exists():
                continue
            labels, foreground = np.load(stored)[args.labels_key], None
        else:
            labels, foreground = cached_segmentation(args.cache / "emps", name, image, args.method, args.tu)
        measured = measure(labels, foreground_fraction=foreground, systematic_rel_sd=systematic)
        hist = measured.size_histogram
        ci = hist.interval
        rows.append({"image": name, "n_truth": n_truth, "n": hist.n, "truth_mean_px": truth_mean,
                     "mean_px": hist.mean, "low": ci.mean_low, "high": ci.mean_high,
                     "covers": truth_mean is not None and ci.covers_mean(truth_mean)})
        print(json.dumps(rows[-1]), flush=True)
    return {"method": args.method, "tu": args.tu if args.method == "bpartis" else None, "systematic_rel_sd": systematic,
            "images": len(rows), "coverage": float(np.mean([r["covers"] for r in rows])),
            "median_relative_width": float(np.median([(r["high"] - r["low"]) / r["mean_px"] for r in rows if r["low"] is not None]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=("synthetic", "emps", "cache", "systematic"))
    parser.add_argument("--images", choices=("synthetic", "test", "validation"), default="test", help="cache: which images to segment")
    parser.add_argument("--n", type=int, default=100, help="synthetic micrographs")
    parser.add_argument("--emps", type=Path, default=Path("../shared/emps"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--method", default="bpartis", help="segmentation method (default settings); only bpartis has MC samples")
    parser.add_argument("--first", type=int, default=0, help="first synthetic seed")
    parser.add_argument("--labels-from", type=Path, help="emps: instance maps segmented elsewhere, DIR/<image>.npz (no MC spread); images without one are left out")
    parser.add_argument("--labels-key", default="labels", help="the array of those .npz files holding the instance map")
    parser.add_argument("--reverse", action="store_true", help="cache: last image first (a second process meeting the first)")
    parser.add_argument("--out", type=Path, help="write the summary JSON here")
    parser.add_argument("--tu", type=float, help="BPartIS's uncertainty threshold (default: the one of /work/tu-decision.md, else the bundle's)")
    args = parser.parse_args()
    if args.tu is None and args.method == "bpartis":
        args.tu = bpartis_tu()
    summary = {"synthetic": run_synthetic, "emps": run_emps, "cache": run_cache, "systematic": run_systematic}[args.check](args)
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
