"""Choose BPartIS's uncertainty threshold tu on the validation publications of the EMPS train split
(issue 31), then check the choice once on the test split.

    python benchmarks/tu_choice.py validation --cache /tmp/tu-mc --decision tu-decision.md
    python benchmarks/tu_choice.py test --cache /tmp/tu-mc --tu 0.02 --ide2-maps DIR --agreement-cache DIR

The rule (BENCHMARKS.md, "Choosing our model's tu"): candidates :data:`TU_CANDIDATES`; eligible when
the mean AP50 over the validation images is not below the reference's (0.0125) by more than
:data:`AP50_TOLERANCE`; score = mean over the three agreement measures (size and aspect-ratio
histogram cosine distances, binning ``truth``; RDF RMSE; images with >= 30 labelled particles) of
measure(candidate) / measure(reference); the eligible candidate of lowest score is adopted only if
its score is below 1.

One Bayesian MC inference per image (the model's T and flips, seed ``--seed``) is cached before the
filter as ``CACHE/<split>/<image>.npz`` (instances at the network's size, seed scores, mutual
information map) and re-filtered at every tu, so the sweep, and any later tu, costs no network run.
``test`` scores the chosen tu against the reference: AP50 and F1@0.5 on every test image and the
agreement check against IDE 2.0.4's cached maps (``benchmarks/agreement.py``'s cache,
``DIR/<image>.npz`` with key ``filtered``), paired differences with standard errors over images;
``--agreement-cache DIR`` also writes ours at the chosen tu as ``DIR/ours/<image>.npz`` so that
``benchmarks/agreement.py --cache DIR --cached-only`` rewrites its section without a network run.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate.analysis import ANALYSIS_KEYS, MIN_GT_PARTICLES, compare_stats, particle_stats
from imagedataextractor.evaluate.metrics import evaluate_pair
from imagedataextractor.evaluate.sweep import MCPrediction, mc_prediction
from imagedataextractor.segment.predict import BPartISConfig
from imagedataextractor.train.loop import split_by_publication

TU_CANDIDATES = (0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, math.inf)
#: The shipped threshold (the paper's, chosen for the original network) every candidate is compared with.
REFERENCE_TU = 0.0125
#: How far a candidate's mean validation AP50 may fall below the reference's and stay eligible.
AP50_TOLERANCE = 0.01
SEGMENTATION_KEYS = ("AP50", "F1_50")


def tu_name(tu: float) -> str:
    return "none" if math.isinf(tu) else f"{tu:g}"


def split_samples(data: Path, split: str, val_fraction: float) -> list:
    """``validation``: the train split's held-out publications (as ``ide train`` holds them out);
    any other name: that split of the dataset."""
    if split == "validation":
        return split_by_publication(load_split(data, "train"), val_fraction)[1]
    return load_split(data, split)


def cached_prediction(sample, cache: Path, config: BPartISConfig) -> MCPrediction:
    """The image's MC prediction before the filter, from ``cache`` or computed and stored there."""
    path = cache / f"{sample.name}.npz"
    if path.exists():
        stored = np.load(path)
        return MCPrediction(torch.from_numpy(stored["labels"].astype(np.int64)), torch.from_numpy(stored["scores"]),
                            torch.from_numpy(stored["information"]), (int(stored["image_shape"][0]), int(stored["image_shape"][1])))
    prediction = mc_prediction(sample.load()[0], config)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")  # renamed when complete: a run stopped mid-write leaves no broken entry
    np.savez_compressed(partial, labels=prediction.labels.numpy().astype(np.int32), scores=prediction.scores.numpy(),
                        information=prediction.information.numpy(), image_shape=np.array(prediction.image_shape))
    partial.replace(path)
    return prediction


def score_at(truth: np.ndarray, labels: np.ndarray, scores: np.ndarray | None, truth_stats) -> dict[str, float]:
    """AP50 and F1@0.5 of one map (as ``ide evaluate``: native resolution, border kept) and, when
    ``truth_stats`` is given, the three agreement distances (binning ``truth``, border not counted)."""
    metrics = evaluate_pair(truth, labels, scores=scores)
    row = {key: metrics[key] for key in SEGMENTATION_KEYS}
    distances = compare_stats(truth_stats, particle_stats(labels), binning="truth").distances() if truth_stats is not None else {}
    return {**row, **{key: distances.get(key, math.nan) for key in ANALYSIS_KEYS}}


def sweep(samples: list, cache: Path, config: BPartISConfig, tu_values) -> pd.DataFrame:
    """One row per (image, tu): ``image``, ``n_true``, ``tu``, AP50, F1_50, the agreement distances
    (NaN on images with fewer than :data:`MIN_GT_PARTICLES` labelled particles)."""
    rows = []
    for sample in tqdm(samples, desc="images"):
        truth = sample.load()[1]
        n_true = int(np.count_nonzero(np.unique(truth)))
        truth_stats = particle_stats(truth) if n_true >= MIN_GT_PARTICLES else None
        prediction = cached_prediction(sample, cache, config)
        for tu in tu_values:
            labels, scores = prediction.at_tu(tu)
            rows.append({"image": sample.name, "n_true": n_true, "tu": float(tu), **score_at(truth, labels, scores, truth_stats)})
    return pd.DataFrame(rows)


def mean_se(diff: pd.Series) -> tuple[float, float, int]:
    """Mean and standard error of paired differences (NaNs dropped), and their count."""
    diff = diff.dropna()
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan, len(diff)


def decide(rows: pd.DataFrame, tu_values) -> tuple[pd.DataFrame, float]:
    """The rule's table (one row per tu: means, paired AP50 difference, ratios, score, eligible) and
    the tu it chooses."""
    wide = {key: rows.pivot(index="image", columns="tu", values=key) for key in (*SEGMENTATION_KEYS, *ANALYSIS_KEYS)}
    table = []
    for tu in tu_values:
        ap_diff, ap_se, _ = mean_se(wide["AP50"][tu] - wide["AP50"][REFERENCE_TU])
        row = {"tu": tu, "AP50": wide["AP50"][tu].mean(), "AP50_diff": ap_diff, "AP50_se": ap_se, "F1_50": wide["F1_50"][tu].mean()}
        ratios = []
        for key in ANALYSIS_KEYS:
            both = wide[key][list(dict.fromkeys((tu, REFERENCE_TU)))].dropna()
            row[key] = both[tu].mean()
            row[f"{key}_n"] = len(both)
            ratios.append(both[tu].mean() / both[REFERENCE_TU].mean())
        row["score"] = float(np.mean(ratios))
        row["eligible"] = bool(ap_diff >= -AP50_TOLERANCE)
        table.append(row)
    table = pd.DataFrame(table)
    eligible = table[table["eligible"]]
    best = eligible.loc[eligible["score"].idxmin()]
    return table, float(best["tu"]) if best["score"] < 1 else REFERENCE_TU


def validation_table(table: pd.DataFrame, chosen: float, n_images: int, n_analysis: int) -> str:
    lines = [f"Validation: {n_images} images (AP50, F1@0.5), {n_analysis} with >= {MIN_GT_PARTICLES} labelled particles (agreement measures).",
             "",
             "| tu | AP50 | AP50 - AP50(0.0125), mean +- SE | F1@0.5 | size cos | AR cos | RDF rmse | score | eligible |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in table.to_dict("records"):
        mark = " (chosen)" if row["tu"] == chosen else ""
        lines.append(f"| {tu_name(row['tu'])}{mark} | {row['AP50']:.4f} | {row['AP50_diff']:+.4f} +- {row['AP50_se']:.4f} | {row['F1_50']:.4f} | "
                     + " | ".join(f"{row[key]:.4f}" for key in ANALYSIS_KEYS)
                     + f" | {row['score']:.4f} | {'yes' if row['eligible'] else 'no'} |")
    return "\n".join(lines) + "\n"


def test_report(rows: pd.DataFrame, chosen: float, ide2_maps: Path | None, samples: list) -> tuple[str, pd.DataFrame]:
    """AP50/F1 at the chosen tu against the reference on every image, and the agreement check
    (ours at the chosen tu, at the reference, and IDE 2.0.4's filtered maps) with paired differences."""
    lines = [f"Test: {rows['image'].nunique()} images; ours at tu {tu_name(chosen)} against tu {tu_name(REFERENCE_TU)}.", "",
             "| measure | images | tu 0.0125 | chosen | chosen - 0.0125, mean +- SE |", "|---|---|---|---|---|"]
    for key in SEGMENTATION_KEYS:
        wide = rows.pivot(index="image", columns="tu", values=key)
        diff, se, n = mean_se(wide[chosen] - wide[REFERENCE_TU])
        lines.append(f"| {key} | {n} | {wide[REFERENCE_TU].mean():.4f} | {wide[chosen].mean():.4f} | {diff:+.4f} +- {se:.4f} |")
    agreement = rows[rows["n_true"] >= MIN_GT_PARTICLES][["image", "tu", *ANALYSIS_KEYS]].copy()
    if ide2_maps is not None:
        original = []
        for sample in samples:
            if sample.name in set(agreement["image"]):
                truth = sample.load()[1]
                labels = np.load(ide2_maps / f"{sample.name}.npz")["filtered"]
                distances = compare_stats(particle_stats(truth), particle_stats(labels), binning="truth").distances()
                original.append({"image": sample.name, "tu": "ide2", **distances})
        agreement = pd.concat([agreement, pd.DataFrame(original)], ignore_index=True)
    lines += ["", f"Agreement, {agreement['image'].nunique()} images with >= {MIN_GT_PARTICLES} labelled particles, binning `truth`:", "",
              "| segmentation | size cos | AR cos | RDF rmse |", "|---|---|---|---|"]
    labels_of = {REFERENCE_TU: f"ours, tu {tu_name(REFERENCE_TU)}", chosen: f"ours, tu {tu_name(chosen)} (chosen)", "ide2": "IDE 2.0.4's own code and checkpoint"}
    wide = {key: agreement.pivot(index="image", columns="tu", values=key) for key in ANALYSIS_KEYS}
    for who, name in labels_of.items():
        lines.append(f"| {name} | " + " | ".join(f"{wide[key][who].mean():.4f}" for key in ANALYSIS_KEYS) + " |")
    pairs = [(chosen, REFERENCE_TU)] + ([(chosen, "ide2"), (REFERENCE_TU, "ide2")] if ide2_maps is not None else [])
    for a, b in pairs:
        cells = []
        for key in ANALYSIS_KEYS:
            both = wide[key][list(dict.fromkeys((a, b)))].dropna()
            diff, se, n = mean_se(both[a] - both[b])
            cells.append(f"{diff:+.4f} +- {se:.4f} ({int((both[a] < both[b]).sum())}/{n} closer)")
        lines.append(f"| {labels_of[a]} - {labels_of[b]}, paired mean +- SE | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", agreement


def write_agreement_cache(samples: list, cache: Path, config: BPartISConfig, chosen: float, directory: Path) -> None:
    """Ours at the chosen tu (and unfiltered) in ``benchmarks/agreement.py``'s cache layout."""
    for sample in samples:
        if int(np.count_nonzero(np.unique(sample.load()[1]))) < MIN_GT_PARTICLES:
            continue
        prediction = cached_prediction(sample, cache, config)
        path = directory / "ours" / f"{sample.name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, filtered=prediction.at_tu(chosen)[0], unfiltered=prediction.at_tu(math.inf)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", choices=("validation", "test"))
    parser.add_argument("--data", type=Path, default=default_emps_dir())
    parser.add_argument("--cache", type=Path, required=True, help="Directory of the cached MC predictions (one subdirectory per split).")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tu", type=float, default=None, help="test: the tu chosen on the validation images.")
    parser.add_argument("--ide2-maps", type=Path, default=None, help="test: IDE 2.0.4's cached maps (agreement.py's CACHE/ide2).")
    parser.add_argument("--agreement-cache", type=Path, default=None, help="test: write ours at the chosen tu as DIR/ours/<image>.npz.")
    parser.add_argument("--decision", type=Path, default=None, help="validation: write 'tu = <value>' and the table to this file.")
    parser.add_argument("--segment-only", action="store_true", help="Fill the cache (agreement images first) and stop; scores nothing.")
    parser.add_argument("--cached-only", action="store_true", help="Score only the images already cached (a partial run, said so in the output).")
    parser.add_argument("--out", type=Path, default=None, help="Per-image rows (CSV).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = BPartISConfig(seed=args.seed)
    samples = split_samples(args.data, args.split, args.val_fraction)
    cache = args.cache / args.split
    if args.segment_only:
        # The agreement check's images first: a fill stopped early still serves it.
        n_true = {s.name: int(np.count_nonzero(np.unique(s.load()[1]))) for s in samples}
        for sample in tqdm(sorted(samples, key=lambda s: n_true[s.name] < MIN_GT_PARTICLES), desc="segment"):
            cached_prediction(sample, cache, config)
        return
    if args.cached_only:
        samples = [s for s in samples if (cache / f"{s.name}.npz").exists()]
    if args.split == "validation":
        rows = sweep(samples, cache, config, TU_CANDIDATES)
        table, chosen = decide(rows, TU_CANDIDATES)
        text = validation_table(table, chosen, rows["image"].nunique(), int(rows.loc[rows["tu"] == REFERENCE_TU, "size_hist_cosine"].notna().sum()))
        text = f"tu = {tu_name(chosen)}\n\n{text}"
        if args.decision:
            args.decision.write_text(text)
    else:
        if args.tu is None:
            raise SystemExit("test: give --tu, the value chosen on the validation images")
        rows = sweep(samples, cache, config, sorted({REFERENCE_TU, args.tu}))
        text, _ = test_report(rows, args.tu, args.ide2_maps, samples)
        if args.agreement_cache:
            write_agreement_cache(samples, cache, config, args.tu, args.agreement_cache)
    if args.out:
        rows.to_csv(args.out, index=False)
    print(text)


if __name__ == "__main__":
    main()
