"""Agreement of particle statistics with hand labels (issue 31): the BPartIS paper's particle-
analysis check (size and aspect-ratio histogram cosine distances, RDF RMSE) on the EMPS test images
with at least 30 labelled particles, for this package's BPartIS and for ImageDataExtractor 2.0.4's
own segmenter on the same images, scored by the same code (``imagedataextractor.evaluate.analysis``).

    pip download imagedataextractor==2.0.4 --no-deps -d /tmp/ide204 && unzip -q /tmp/ide204/*.whl -d /tmp/ide204/wheel
    python benchmarks/agreement.py --wheel /tmp/ide204/wheel --checkpoint ../shared/reference/bpartis-ide2.0.4-seg-model.pt --cache /tmp/agreement

Each segmenter runs once per image; its instance maps (with and without the uncertainty filter) are
cached as ``CACHE/<segmenter>/<image>.npz`` and reused, so the analysis can be re-scored without
running a network (``--segment-only`` fills the cache and stops; ``--cached-only`` scores only the
images already cached). Both histogram binnings of the check are scored (``analysis.BINNINGS``),
and as diagnostics the maps before the filter, border particles counted, and the hand labels
through the networks' 512x512 resolution. Per-image distances go to ``--out`` (CSV); the means, the
paired differences (ours - original) with their standard errors over images, and the paper's
figures are printed and written to the marked section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate.analysis import ANALYSIS_KEYS, BINNINGS, MIN_GT_PARTICLES, PAPER_ANALYSIS, compare_stats, particle_stats
from imagedataextractor.evaluate.sweep import mc_prediction
from imagedataextractor.segment.predict import BPartISConfig, get_bpartis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ide2_original import load_original  # noqa: E402  (a sibling benchmark script)
from methods_comparison import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: Cached maps per segmenter: "filtered" (Bayesian + uncertainty filter, the paper's row) and
#: "unfiltered" (the same MC inference before the filter).
VARIANTS = ("filtered", "unfiltered")
SEGMENTERS = ("ours", "ide2")
NAMES = {"ours": "ours (shipped `bpartis-emps`, default settings)", "ide2": "IDE 2.0.4's own code and checkpoint",
         "gt512": "hand labels through 512x512 and back"}
BEGIN = "<!-- agreement:begin (written by benchmarks/agreement.py; edits here are overwritten) -->"
END = "<!-- agreement:end -->"
#: Both networks segment at 512x512 and the maps are resized to the image (nearest neighbour).
NETWORK_SIZE = 512


def n_instances(labels: np.ndarray) -> int:
    return int(np.count_nonzero(np.unique(labels)))


def cache_ours(image: np.ndarray, config: BPartISConfig) -> dict[str, np.ndarray]:
    """This package's default BPartIS (model, T, flips, precision), border particles kept."""
    prediction = mc_prediction(image, config)
    tu = float(get_bpartis(config.model, config.device).bundle.config.get("tu", 0.0125))
    return {"filtered": prediction.at_tu(tu)[0], "unfiltered": prediction.at_tu(math.inf)[0]}


def cache_ide2(image: np.ndarray, segmenter) -> dict[str, np.ndarray]:
    """IDE 2.0.4's ``ParticleSegmenter.segment``: (filtered, uncertainty, unfiltered) maps."""
    with torch.no_grad():
        filtered, _, unfiltered = segmenter.segment(image)
    return {"filtered": filtered.astype(np.uint16), "unfiltered": unfiltered.astype(np.uint16)}


def fill_cache(samples: list, cache: Path, wheel: Path | None, checkpoint: Path | None, seed: int) -> None:
    """Segment every sample not yet cached, with both segmenters (IDE 2.0.4's global seed set once,
    before its first image, as its users run it)."""
    missing = [s for s in samples if not all((cache / who / f"{s.name}.npz").exists() for who in SEGMENTERS)]
    if not missing:
        return
    config = BPartISConfig(seed=seed)
    with tempfile.TemporaryDirectory() as workdir:
        original = None
        if any(not (cache / "ide2" / f"{s.name}.npz").exists() for s in missing):
            if wheel is None or checkpoint is None:
                raise SystemExit("--wheel and --checkpoint are needed to segment images not in the cache")
            original = load_original(wheel, checkpoint, Path(workdir))(bayesian=True, n_samples=30, tu=0.0125, device="cpu")
            torch.manual_seed(seed)
        for sample in tqdm(missing, desc="segment"):
            image, _ = sample.load()
            for who in SEGMENTERS:
                path = cache / who / f"{sample.name}.npz"
                if path.exists():
                    continue
                maps = cache_ours(image, config) if who == "ours" else cache_ide2(image, original)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(path, **maps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, default=None, help="Unpacked imagedataextractor 2.0.4 wheel (needed unless all maps are cached).")
    parser.add_argument("--checkpoint", type=Path, default=None, help="The original seg-model.pt.")
    parser.add_argument("--data", type=Path, default=default_emps_dir())
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache", type=Path, required=True, help="Directory of the cached instance maps.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--segment-only", action="store_true", help="Fill the cache and stop.")
    parser.add_argument("--cached-only", action="store_true",
                        help="Score only the images both segmenters' maps are cached for (in split order; a partial run).")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "figures" / "agreement_per_image.csv")
    parser.add_argument("--benchmarks", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples = [sample for sample in load_split(args.data, args.split) if n_instances(sample.load()[1]) >= MIN_GT_PARTICLES]
    n_selected = len(samples)
    if args.cached_only:
        samples = [s for s in samples if all((args.cache / who / f"{s.name}.npz").exists() for who in SEGMENTERS)]
    fill_cache(samples, args.cache, args.wheel, args.checkpoint, args.seed)
    if args.segment_only:
        print(f"{len(samples)} images cached in {args.cache}")
        return
    rows = score(samples, args.cache)
    rows.to_csv(args.out, index=False)
    command = "python benchmarks/agreement.py --wheel DIR --checkpoint seg-model.pt --cache DIR" + (" --cached-only" if args.cached_only else "")
    section = report(rows, command=command, n_selected=n_selected,
                     per_image=os.path.relpath(args.out.resolve(), args.benchmarks.resolve().parent))
    print(section)
    text = args.benchmarks.read_text() if args.benchmarks.exists() else "# Benchmarks\n"
    args.benchmarks.write_text(replace_section(text, section, BEGIN, END))


def through_network_size(labels: np.ndarray) -> np.ndarray:
    """An instance map resized to the networks' input size and back (nearest neighbour, as both
    pipelines resize their output): what the resolution alone changes in the particle statistics."""
    height, width = labels.shape
    small = Image.fromarray(labels.astype(np.int32)).resize((NETWORK_SIZE, NETWORK_SIZE), Image.Resampling.NEAREST)
    return np.asarray(small.resize((width, height), Image.Resampling.NEAREST)).astype(np.uint16)


def score(samples: list, cache: Path) -> pd.DataFrame:
    """One row per (image, segmenter, variant, border rule, binning): particles counted and the
    three distances. Segmenters: the cached ones and ``gt512`` (the hand labels through the network's
    resolution); variants: ``filtered``/``unfiltered`` (``gt512``: ``filtered`` only); border:
    ``excluded`` (the check's rule) or ``included``; binning: :data:`BINNINGS`."""
    rows = []
    for sample in tqdm(samples, desc="score"):
        truth = sample.load()[1]
        maps = {(who, variant): np.load(cache / who / f"{sample.name}.npz")[variant] for who in SEGMENTERS for variant in VARIANTS}
        maps["gt512", "filtered"] = through_network_size(truth)
        for include_border in (False, True):
            truth_stats = particle_stats(truth, include_border=include_border)
            for (who, variant), labels in maps.items():
                pred_stats = particle_stats(labels, include_border=include_border)
                for binning in BINNINGS:
                    result = compare_stats(truth_stats, pred_stats, binning=binning)
                    rows.append({"image": sample.name, "n_true": n_instances(truth), "segmenter": who, "variant": variant,
                                 "border": "included" if include_border else "excluded", "binning": binning,
                                 "n_gt_counted": result.n_gt, "n_pred_counted": result.n_pred, **result.distances()})
    return pd.DataFrame(rows)


def paired(rows: pd.DataFrame, variant: str, border: str, binning: str) -> pd.DataFrame:
    """Per measure: mean of ours and of the original over the images, and the paired difference
    ours - original, mean and standard error (images where both are finite)."""
    chosen = rows[(rows["variant"] == variant) & (rows["border"] == border) & (rows["binning"] == binning)].set_index(["image", "segmenter"])
    out = {}
    for key in ANALYSIS_KEYS:
        wide = chosen[key].unstack("segmenter")[list(SEGMENTERS)].dropna()
        diff = wide["ours"] - wide["ide2"]
        out[key] = {"ours": wide["ours"].mean(), "ide2": wide["ide2"].mean(), "diff": diff.mean(),
                    "se": diff.std(ddof=1) / math.sqrt(len(diff)), "n": len(diff), "ours_better": int((diff < 0).sum())}
    return pd.DataFrame(out)


def _chosen(rows: pd.DataFrame, who: str, variant: str, border: str, binning: str = BINNINGS[0]) -> pd.DataFrame:
    return rows[(rows["segmenter"] == who) & (rows["variant"] == variant) & (rows["border"] == border) & (rows["binning"] == binning)]


def means(rows: pd.DataFrame, who: str, variant: str, border: str, binning: str = BINNINGS[0]) -> list[float]:
    chosen = _chosen(rows, who, variant, border, binning)
    return [float(chosen[key].mean()) for key in ANALYSIS_KEYS]


def counted(rows: pd.DataFrame, who: str, variant: str, border: str) -> str:
    """Particles counted in the predictions / in the hand labels, summed over the images."""
    chosen = _chosen(rows, who, variant, border)
    return f"{int(chosen['n_pred_counted'].sum())} / {int(chosen['n_gt_counted'].sum())}"


def _cells(values) -> str:
    return " | ".join(f"{v:.4f}" for v in values)


def report(rows: pd.DataFrame, *, command: str, n_selected: int, per_image: str) -> str:
    """The BENCHMARKS.md section: the agreement table under the check's rule, then the diagnostics."""
    n_images = rows["image"].nunique()
    lines = [
        "## Agreement of particle statistics with hand labels (issue 31)",
        "",
        f"`{command}`: the EMPS test images with at least {MIN_GT_PARTICLES} labelled particles ({n_images}"
        + ("" if n_images == n_selected else f" of {n_selected}: the first in the split's order, all that were segmented") + "), each",
        "segmented once by this package's BPartIS and by IDE 2.0.4's own `ParticleSegmenter` (cached maps),",
        f"scored by the same code, `imagedataextractor/evaluate/analysis.py`. Per-image rows: `{per_image}`.",
        "Binning `truth`: the check's rule (bins over the hand labels' range); `joint`: the rule before issue 31",
        "(bins over both samples' range). Particles touching the border are not counted.",
        "",
        "| segmentation | binning | images | size cos | AR cos | RDF rmse |",
        "|---|---|---|---|---|---|",
        f"| paper: BPartIS Bayesian + filter (its own, unpublished, evaluation code) | ? | test, >= 30 particles | {_cells(PAPER_ANALYSIS['bpartis'])} |",
    ]
    for binning in BINNINGS:
        table = paired(rows, "filtered", "excluded", binning)
        lines += [
            f"| {NAMES['ide2']}, Bayesian + filter | {binning} | {n_images} | {_cells(table.loc['ide2'])} |",
            f"| **{NAMES['ours']}, Bayesian + filter** | {binning} | {n_images} | {_cells(table.loc['ours'])} |",
            f"| paired difference ours - original, mean +- SE | {binning} | | "
            + " | ".join(f"{d:+.4f} +- {e:.4f}" for d, e in zip(table.loc["diff"], table.loc["se"])) + " |",
            f"| images where ours is closer | {binning} | | " + " | ".join(f"{int(b)}/{int(n)}" for b, n in zip(table.loc["ours_better"], table.loc["n"])) + " |",
            f"| {NAMES['gt512']} (the resolution's floor) | {binning} | {n_images} | {_cells(means(rows, 'gt512', 'filtered', 'excluded', binning))} |",
        ]
    lines += [
        "",
        "Diagnostics, binning `truth` (means over the same images; not used to choose the rules above):",
        "",
        "| segmentation | border particles | particles counted / labelled | size cos | AR cos | RDF rmse |",
        "|---|---|---|---|---|---|",
    ]
    for border in ("excluded", "included"):
        for variant in VARIANTS:
            for who in SEGMENTERS:
                lines.append(f"| {NAMES[who]}, {'Bayesian + filter' if variant == 'filtered' else 'Bayesian, no filter'} | {border} | "
                             f"{counted(rows, who, variant, border)} | {_cells(means(rows, who, variant, border))} |")
        lines.append(f"| {NAMES['gt512']} | {border} | {counted(rows, 'gt512', 'filtered', border)} | "
                     f"{_cells(means(rows, 'gt512', 'filtered', border))} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
