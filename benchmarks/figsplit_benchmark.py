"""Benchmark the panel splitter on the project's evaluation set: the named cases of
``figsplit.synthetic.CASES`` (one per layout family and failure mode of issue 33), several figures
each, with exact ground truth. The previous splitter (git revision ``--previous``, loaded from git
into a temporary package) and the working tree's are run on the same figures in one command.

    python benchmarks/figsplit_benchmark.py                      # EMPS micrographs, 8 figures a case
    python benchmarks/figsplit_benchmark.py --source procedural  # no EMPS needed
    python benchmarks/figsplit_benchmark.py --previous none      # the working tree only

Measures, per layout family and overall (the same as ``../shared/figsplit-dev/score.py``):
count: figures whose panel count is exact; iou: for each true panel the best IoU with any predicted
box, averaged over panels; labels: labelled true panels whose best-matching predicted panel has the
right letter; wrong: true panels whose best-matching predicted panel has a letter that is not the
one printed there (or none is printed); kinds: true panels whose best-matching predicted panel has
the right is_micrograph;
merged: predicted micrograph panels spanning two true micrographs (covering at least 20 % of each);
s/fig: seconds per figure (split, labels, classification; not drawing). ``--cases`` picks cases,
``-v`` prints every wrong figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

from imagedataextractor.datasets import default_emps_dir
from imagedataextractor.figsplit import split_figure
from imagedataextractor.figsplit.synthetic import CASES, SyntheticFigure, emps_micrographs, make_case, procedural_micrograph
from imagedataextractor.figsplit.types import box_iou

REPO = Path(__file__).resolve().parents[1]
FIGSPLIT_FILES = ("__init__.py", "classify.py", "labels.py", "layout.py", "split.py", "types.py")


def previous_splitter(revision: str, workdir: Path) -> Callable:
    """``split_figure`` of the figsplit package at git ``revision``, imported as a sibling package of
    the working tree's (``imagedataextractor.figsplit_<revision>``) so its relative imports of the
    rest of the package resolve."""
    package = workdir / "figsplit_previous"
    package.mkdir()
    for name in FIGSPLIT_FILES:
        source = subprocess.run(["git", "show", f"{revision}:imagedataextractor/figsplit/{name}"], cwd=REPO, check=True, capture_output=True, text=True).stdout
        (package / name).write_text(source)
    module_name = f"imagedataextractor.figsplit_{revision}"
    spec = importlib.util.spec_from_file_location(module_name, package / "__init__.py", submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[module_name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.split_figure


def _covered(truth_box, box) -> float:
    width, height = min(truth_box[2], box[2]) - max(truth_box[0], box[0]), min(truth_box[3], box[3]) - max(truth_box[1], box[1])
    area = (truth_box[2] - truth_box[0]) * (truth_box[3] - truth_box[1])
    return max(0, width) * max(0, height) / area


def score_figure(figure: SyntheticFigure, predicted) -> dict:
    """Per-figure counts that the summary adds up."""
    counts = {"figures": 1, "count": int(len(predicted) == len(figure.panels)), "panels": len(figure.panels), "iou": 0.0, "labelled": 0, "labels": 0, "wrong": 0, "kinds": 0, "merged": 0}
    for truth in figure.panels:
        overlaps = [box_iou(truth.bbox, found.bbox) for found in predicted]
        best = predicted[max(range(len(predicted)), key=overlaps.__getitem__)] if predicted and max(overlaps) > 0 else None
        counts["iou"] += max(overlaps, default=0.0)
        counts["kinds"] += best is not None and best.is_micrograph == truth.is_micrograph
        counts["wrong"] += best is not None and best.label is not None and best.label != truth.label
        if truth.label is not None:
            counts["labelled"] += 1
            counts["labels"] += best is not None and best.label == truth.label
    micrographs = [truth.bbox for truth in figure.panels if truth.is_micrograph]
    counts["merged"] = sum(found.is_micrograph and sum(_covered(box, found.bbox) >= 0.2 for box in micrographs) >= 2 for found in predicted)
    return counts


def summary(totals: dict, seconds: float) -> str:
    return (
        f"count {totals['count']:.0f}/{totals['figures']:.0f} ({totals['count'] / totals['figures']:.2f})  iou {totals['iou'] / totals['panels']:.3f}  "
        f"labels {totals['labels']:.0f}/{totals['labelled']:.0f} ({totals['labels'] / max(totals['labelled'], 1):.2f})  wrong {totals['wrong']:.0f}  "
        f"kinds {totals['kinds']:.0f}/{totals['panels']:.0f} ({totals['kinds'] / totals['panels']:.2f})  merged {totals['merged']:.0f}  s/fig {seconds / totals['figures']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=int, default=8, help="figures per case")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--source", choices=["emps", "procedural"], default="emps")
    parser.add_argument("--previous", default="1b13456", help="git revision of the previous splitter, or 'none'")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("-v", "--verbose", action="store_true", help="print every figure with a wrong count, label or kind")
    args = parser.parse_args()
    source = emps_micrographs(default_emps_dir()) if args.source == "emps" else procedural_micrograph
    figures = [make_case(name, seed, micrographs=source) for name in args.cases for seed in range(args.first_seed, args.first_seed + args.figures)]
    with tempfile.TemporaryDirectory() as workdir:
        splitters = {"current": split_figure}
        if args.previous != "none":
            splitters = {f"previous ({args.previous})": previous_splitter(args.previous, Path(workdir)), **splitters}
        print(f"{len(figures)} figures, {sum(len(f.panels) for f in figures)} panels, {len(args.cases)} cases, micrographs: {args.source}")
        for title, splitter in splitters.items():
            totals: dict = defaultdict(lambda: defaultdict(float))
            seconds: dict = defaultdict(float)
            for figure in figures:
                start = time.perf_counter()
                predicted = splitter(figure.image)
                elapsed = time.perf_counter() - start
                scores = score_figure(figure, predicted)
                for group in ("all", CASES[figure.separator][0], figure.separator):
                    for key, value in scores.items():
                        totals[group][key] += value
                    seconds[group] += elapsed
                wrong = scores["count"] < 1 or scores["labels"] < scores["labelled"] or scores["kinds"] < scores["panels"] or scores["merged"]
                if args.verbose and wrong:
                    print(f"  {figure.separator} seed {figure.seed}: truth {[(p.bbox, p.label, p.is_micrograph) for p in figure.panels]}")
                    print(f"  {' ' * len(figure.separator)} found {[(p.bbox, p.label, p.is_micrograph) for p in predicted]}")
            print(f"\n== {title}")
            families = list(dict.fromkeys(CASES[name][0] for name in args.cases))
            for family in families:
                print(f"{family:<24} {summary(totals[family], seconds[family])}")
                for name in (n for n in args.cases if CASES[n][0] == family):
                    print(f"  {name:<22} {summary(totals[name], seconds[name])}")
            print(f"{'overall':<24} {summary(totals['all'], seconds['all'])}")


if __name__ == "__main__":
    main()
