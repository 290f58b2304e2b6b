"""Benchmark the panel splitter on synthetic multi-panel figures with exact ground truth.

    python benchmarks/figsplit_benchmark.py --figures 300            # EMPS micrographs
    python benchmarks/figsplit_benchmark.py --source procedural      # no EMPS needed

Metrics: panel count accuracy (figures whose panel count is right), mean panel IoU (each true panel
matched one-to-one to a predicted panel by the Hungarian method on IoU, unmatched = 0), label
accuracy (labelled true panels whose matched panel, IoU >= 0.5, has the right letter), label
precision (of the letters reported for matched panels, the share that are right: a wrong letter or a
letter on an unlabelled panel counts against it), false labels (unlabelled true panels given a
letter), micrograph accuracy (matched panels classified right), and seconds per figure (splitting,
labels and classification; not drawing). Broken down by separator.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np
from scipy.optimize import linear_sum_assignment

from imagedataextractor.datasets import default_emps_dir
from imagedataextractor.figsplit import split_figure
from imagedataextractor.figsplit.synthetic import emps_micrographs, make_figure, procedural_micrograph


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def score_figure(truth, predicted) -> dict:
    """Per-figure counts that the summary adds up."""
    matrix = np.array([[iou(t.bbox, p.bbox) for p in predicted] for t in truth]) if predicted else np.zeros((len(truth), 0))
    rows, cols = linear_sum_assignment(-matrix) if predicted else ([], [])
    matched = {int(r): int(c) for r, c in zip(rows, cols)}
    ious, labels_right, labelled, false_labels, unlabelled, reported, kinds_right, kinds_seen = [], 0, 0, 0, 0, 0, 0, 0
    for index, panel in enumerate(truth):
        overlap = matrix[index, matched[index]] if index in matched else 0.0
        ious.append(overlap)
        hit = predicted[matched[index]] if index in matched and overlap >= 0.5 else None
        reported += hit is not None and hit.label is not None
        if panel.label is not None:
            labelled += 1
            labels_right += hit is not None and hit.label == panel.label
        else:
            unlabelled += 1
            false_labels += hit is not None and hit.label is not None
        if hit is not None:
            kinds_seen += 1
            kinds_right += hit.is_micrograph == panel.is_micrograph
    return {
        "figures": 1,
        "count_right": int(len(truth) == len(predicted)),
        "panels": len(truth),
        "iou_sum": float(sum(ious)),
        "labelled": labelled,
        "labels_right": int(labels_right),
        "unlabelled": unlabelled,
        "false_labels": int(false_labels),
        "reported_labels": int(reported),
        "kinds_seen": kinds_seen,
        "kinds_right": int(kinds_right),
        "non_micrographs": sum(not panel.is_micrograph for panel in truth),
    }


def summarise(totals: dict, seconds: float) -> dict:
    def ratio(numerator: str, denominator: str) -> float | None:
        return round(totals[numerator] / totals[denominator], 4) if totals[denominator] else None

    return {
        "figures": totals["figures"],
        "panels": totals["panels"],
        "non_micrograph_panels": totals["non_micrographs"],
        "panel_count_accuracy": ratio("count_right", "figures"),
        "mean_panel_iou": ratio("iou_sum", "panels"),
        "label_accuracy": ratio("labels_right", "labelled"),
        "label_precision": ratio("labels_right", "reported_labels"),
        "false_label_rate": ratio("false_labels", "unlabelled"),
        "micrograph_accuracy": ratio("kinds_right", "kinds_seen"),
        "seconds_per_figure": round(seconds / totals["figures"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=int, default=300)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--source", choices=["emps", "procedural"], default="emps")
    parser.add_argument("--failures", action="store_true", help="print the seeds of figures with a wrong panel count")
    args = parser.parse_args()
    source = emps_micrographs(default_emps_dir()) if args.source == "emps" else procedural_micrograph
    totals: dict = defaultdict(lambda: defaultdict(float))
    seconds: dict = defaultdict(float)
    for seed in range(args.first_seed, args.first_seed + args.figures):
        figure = make_figure(seed, micrographs=source)
        start = time.perf_counter()
        predicted = split_figure(figure.image)
        elapsed = time.perf_counter() - start
        scores = score_figure(figure.panels, predicted)
        for group in ("all", figure.separator):
            for key, value in scores.items():
                totals[group][key] += value
            seconds[group] += elapsed
        if args.failures and not scores["count_right"]:
            print(f"seed {seed} ({figure.separator}): {len(figure.panels)} panels, found {len(predicted)}")
    report = {group: summarise(totals[group], seconds[group]) for group in ("all", "white", "black", "abutting") if group in totals}
    print(json.dumps({"source": args.source, "first_seed": args.first_seed, **report}, indent=2))


if __name__ == "__main__":
    main()
