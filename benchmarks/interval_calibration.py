"""Calibration of the 95 % confidence interval of a panel's mean particle diameter.

Two checks, each decided by a rule fixed before the run (issue 31):

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

Segmentations are cached (``--cache``, outside git) so the interval arithmetic can be rerun cheaply.

    python benchmarks/interval_calibration.py synthetic --n 100 [--method watershed]
    python benchmarks/interval_calibration.py emps --emps ../shared/emps [--method watershed]
    python benchmarks/interval_calibration.py emps --labels-from MAPS_DIR --labels-key filtered   # maps segmented elsewhere
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from imagedataextractor.datasets.emps import load_split
from imagedataextractor.measure import MeasureConfig, measure, scale_relative_sd
from imagedataextractor.scalebar import read_scalebar, scalebar_mask
from imagedataextractor.segment import segment
from imagedataextractor.segment.masking import blank_regions
from imagedataextractor.synth import ScalebarStyle, draw_scalebar

SIZE_PX = 512
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


def cached_segmentation(cache: Path, key: str, image: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``method``'s (default settings) labels and foreground fraction (None without MC samples) of
    ``image``, from ``cache/method/key.npz`` when there."""
    path = cache / method / f"{key}.npz"
    if path.exists():
        stored = np.load(path)
        return stored["labels"], stored["foreground"] if "foreground" in stored else None
    result = segment(image, method=method)
    path.parent.mkdir(parents=True, exist_ok=True)
    maps = {"labels": result.labels} | ({} if result.foreground_fraction is None else {"foreground": result.foreground_fraction})
    np.savez_compressed(path, **maps)
    return result.labels, result.foreground_fraction


def run_synthetic(args: argparse.Namespace) -> dict:
    rows = []
    for seed in range(args.first, args.first + args.n):
        image, nm_per_px_true, population_mean, sample_mean = synthetic_micrograph(seed)
        bar = read_scalebar(image)
        blanked = blank_regions(image, scalebar_mask(image.shape, bar))
        labels, foreground = cached_segmentation(args.cache / "synthetic", f"{seed:04d}", blanked, args.method)
        if bar.nm_per_px is None:
            rows.append({"seed": seed, "scalebar_read": False})
            continue
        measured = measure(labels, nm_per_px=bar.nm_per_px, foreground_fraction=foreground,
                           scale_rel_sd=scale_relative_sd(bar.length_px, bar.length_sd_px), config=MeasureConfig())
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
        "method": args.method, "images": len(rows), "scored": len(scored),
        "coverage_population": float(np.mean([r["covers_population"] for r in scored])),
        "coverage_sample": float(np.mean([r["covers_sample"] for r in scored])),
        "median_relative_width": float(np.median([(r["high"] - r["low"]) / r["mean_nm"] for r in scored])),
        "median_relative_error": float(np.median([abs(r["mean_nm"] / r["population_mean_nm"] - 1) for r in scored])),
    }


def run_emps(args: argparse.Namespace) -> dict:
    rows = []
    for sample in load_split(args.emps, "test"):
        image, truth = sample.load()
        truth_measured = measure(truth.astype(np.int64), config=MeasureConfig(intervals=None))
        if truth_measured.summary["n_particles_total"] < 30:
            continue
        truth_mean = truth_measured.size_histogram.mean
        if args.labels_from is not None:
            stored = args.labels_from / f"{sample.name}.npz"
            if not stored.exists():
                continue
            labels, foreground = np.load(stored)[args.labels_key], None
        else:
            labels, foreground = cached_segmentation(args.cache / "emps", sample.name, image, args.method)
        measured = measure(labels, foreground_fraction=foreground)
        hist = measured.size_histogram
        ci = hist.interval
        rows.append({"image": sample.name, "n_truth": truth_measured.size_histogram.n, "n": hist.n, "truth_mean_px": truth_mean,
                     "mean_px": hist.mean, "low": ci.mean_low, "high": ci.mean_high,
                     "covers": truth_mean is not None and ci.covers_mean(truth_mean)})
        print(json.dumps(rows[-1]), flush=True)
    return {"method": args.method, "images": len(rows), "coverage": float(np.mean([r["covers"] for r in rows])),
            "median_relative_width": float(np.median([(r["high"] - r["low"]) / r["mean_px"] for r in rows if r["low"] is not None]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=("synthetic", "emps"))
    parser.add_argument("--n", type=int, default=100, help="synthetic micrographs")
    parser.add_argument("--emps", type=Path, default=Path("../shared/emps"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--method", default="bpartis", help="segmentation method (default settings); only bpartis has MC samples")
    parser.add_argument("--first", type=int, default=0, help="first synthetic seed")
    parser.add_argument("--labels-from", type=Path, help="emps: instance maps segmented elsewhere, DIR/<image>.npz (no MC spread); images without one are left out")
    parser.add_argument("--labels-key", default="labels", help="the array of those .npz files holding the instance map")
    parser.add_argument("--out", type=Path, help="write the summary JSON here")
    args = parser.parse_args()
    summary = run_synthetic(args) if args.check == "synthetic" else run_emps(args)
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
