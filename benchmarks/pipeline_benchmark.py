"""End-to-end benchmark of ``extract()`` on synthetic multi-panel figures with scalebars.

    python benchmarks/pipeline_benchmark.py --figures 50                  # EMPS micrographs, watershed
    python benchmarks/pipeline_benchmark.py --source procedural           # no EMPS needed
    python benchmarks/pipeline_benchmark.py --method bpartis --figures 10

Figures come from the panel-splitting generator (:func:`imagedataextractor.figsplit.synthetic.make_figure`:
grids with white, black or abutting gutters, panel labels, plots and schematics among the
micrographs, captions, JPEG) with one scalebar drawn into every micrograph panel by
:func:`imagedataextractor.synth.draw_scalebar` (random style, font, value and unit, as in the
scalebar benchmark; always in the bottom-right corner, where the generator never puts a label;
insets are off, so each micrograph has exactly one bar). Each figure goes through
``extract(figure, method=...)`` whole: splitting, labels, classification, scalebar, inpainting,
segmentation and measurement.

Metrics: panel count accuracy (figures with the right number of results), mean panel IoU (true
panels matched one-to-one by IoU, unmatched = 0), micrograph accuracy (matched panels measured vs
skipped as they should be), label accuracy and precision (as in the panel-splitting benchmark),
scalebar value+unit accuracy and nm/px accuracy (nm per pixel within 2 % of the truth) over the
true micrograph panels (a missed panel counts as wrong), the median relative nm/px error where the
value was read right, and seconds per figure for the whole ``extract`` call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from figsplit_benchmark import iou  # noqa: E402

from imagedataextractor import extract  # noqa: E402
from imagedataextractor.datasets import default_emps_dir  # noqa: E402
from imagedataextractor.figsplit.synthetic import FigureStyle, MicrographSource, emps_micrographs, make_figure, procedural_micrograph  # noqa: E402
from imagedataextractor.synth import ScalebarTruth, draw_legible_scalebar, font_paths  # noqa: E402

#: nm per pixel within this relative error counts as right.
NM_PER_PX_TOLERANCE = 0.02


def with_scalebars(micrographs: MicrographSource, seed: int, truths: list[ScalebarTruth | None]) -> MicrographSource:
    """A micrograph source that draws a legible scalebar into each micrograph it makes and appends
    its truth (in the micrograph's pixels) to ``truths``, None where none fits. Bar styles come from
    their own generator, so the figure's layout is the same as without bars."""
    rng = np.random.default_rng([seed, 1])
    fonts = font_paths()

    def draw(figure_rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        background = micrographs(figure_rng, width, height)
        drawn = draw_legible_scalebar(background, rng, fonts=fonts, attempts=50, corner="bottom-right")
        if drawn is not None:
            truths.append(drawn[1])
            return drawn[0]
        truths.append(None)
        return background

    return draw


def score_figure(figure, bars: list[ScalebarTruth | None], results: list) -> dict:
    """Per-figure counts that :func:`summarise` adds up."""
    truth = figure.panels
    predicted = [r for r in results if r.panel is not None]
    matrix = np.array([[iou(t.bbox, r.panel.bbox) for r in predicted] for t in truth]) if predicted else np.zeros((len(truth), 0))
    rows, cols = linear_sum_assignment(-matrix) if predicted else ([], [])
    matched = {int(r): int(c) for r, c in zip(rows, cols)}
    bar_of_panel = iter(bars)  # one truth per micrograph panel, in reading order
    counts = dict(figures=1, count_right=int(len(truth) == len(results)), panels=len(truth), iou_sum=0.0, labelled=0, labels_right=0,
                  reported_labels=0, kinds_seen=0, kinds_right=0, bars=0, values_right=0, scales_right=0)
    scale_errors, misses = [], []
    for index, panel in enumerate(truth):
        overlap = matrix[index, matched[index]] if index in matched else 0.0
        counts["iou_sum"] += overlap
        hit = predicted[matched[index]] if index in matched and overlap >= 0.5 else None
        bar = next(bar_of_panel) if panel.is_micrograph else None
        if panel.label is not None:
            counts["labelled"] += 1
            counts["labels_right"] += hit is not None and hit.panel.label == panel.label
        counts["reported_labels"] += hit is not None and hit.panel.label is not None
        if hit is not None:
            counts["kinds_seen"] += 1
            counts["kinds_right"] += (hit.status == "done") == panel.is_micrograph
        if bar is None:
            continue
        counts["bars"] += 1
        found = hit.scalebar if hit is not None and hit.status == "done" else None
        read = "panel missed" if found is None else f"{found.text!r} -> {found.value} {found.unit}, {found.length_px} px"
        if found is None or found.value is None or found.unit != bar.unit or abs(found.value - bar.value) > 1e-6 * bar.value:
            misses.append(f"panel {index + 1}: truth {bar.text!r} {bar.length_px:.0f} px, read {read}")
            continue
        counts["values_right"] += 1
        if found.nm_per_px is not None:
            error = abs(found.nm_per_px - bar.nm_per_px) / bar.nm_per_px
            scale_errors.append(error)
            counts["scales_right"] += error <= NM_PER_PX_TOLERANCE
            if error > NM_PER_PX_TOLERANCE:
                misses.append(f"panel {index + 1}: truth {bar.text!r} {bar.length_px:.0f} px, read {read} (nm/px off by {error:.1%})")
    return {**counts, "scale_errors": scale_errors, "misses": misses}


def summarise(totals: dict, scale_errors: list[float], seconds: float) -> dict:
    def ratio(numerator: str, denominator: str) -> float | None:
        return round(totals[numerator] / totals[denominator], 4) if totals[denominator] else None

    return {
        "figures": totals["figures"],
        "panels": totals["panels"],
        "micrograph_panels_with_bar": totals["bars"],
        "panel_count_accuracy": ratio("count_right", "figures"),
        "mean_panel_iou": ratio("iou_sum", "panels"),
        "micrograph_accuracy": ratio("kinds_right", "kinds_seen"),
        "label_accuracy": ratio("labels_right", "labelled"),
        "label_precision": ratio("labels_right", "reported_labels"),
        "scalebar_value_unit_accuracy": ratio("values_right", "bars"),
        "nm_per_px_accuracy": ratio("scales_right", "bars"),
        "nm_per_px_median_error": round(statistics.median(scale_errors), 5) if scale_errors else None,
        "seconds_per_figure": round(seconds / totals["figures"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--source", choices=["emps", "procedural"], default="emps")
    parser.add_argument("--method", default="watershed", help="segmentation method passed to extract() (default: watershed, cheap)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (for --method bpartis)")
    parser.add_argument("--verbose", action="store_true", help="print every micrograph panel whose scalebar or scale was not read right")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    source = emps_micrographs(default_emps_dir()) if args.source == "emps" else procedural_micrograph
    style = FigureStyle(inset_probability=0.0)  # an inset would get a second scalebar
    totals: dict = {}
    scale_errors: list[float] = []
    seconds = 0.0
    for seed in range(args.first_seed, args.first_seed + args.figures):
        bars: list[ScalebarTruth | None] = []
        figure = make_figure(seed, micrographs=with_scalebars(source, seed, bars), style=style)
        start = time.perf_counter()
        results = extract(figure.image, method=args.method)
        seconds += time.perf_counter() - start
        scores = score_figure(figure, bars, results)
        scale_errors += scores.pop("scale_errors")
        misses = scores.pop("misses")
        for key, value in scores.items():
            totals[key] = totals.get(key, 0) + value
        if args.verbose:
            for miss in misses:
                print(f"seed {seed} {miss}", file=sys.stderr)
    report = summarise(totals, scale_errors, seconds)
    print(json.dumps({"source": args.source, "method": args.method, "first_seed": args.first_seed, **report}, indent=2))


if __name__ == "__main__":
    main()
