"""Every segmentation method side by side on the EMPS test split: regenerates the comparison table
(paper metrics, COCO mAP, F1, seconds per image, the particle-analysis check), the overlay grid,
the uncertainty-threshold sweep (table and plot), and rewrites the marked section of BENCHMARKS.md.

    python benchmarks/methods_comparison.py --data ../shared/emps [--limit N] [-T 30] [--bpartis-model M]
    python benchmarks/methods_comparison.py --data ../shared/emps --keep-stored bpartis,bpartis-bayesian,...

Methods are whatever ``segment.METHODS`` holds when it runs. ``--keep-stored`` reruns only the
methods it does not name (e.g. one whose bundle was retrained) and takes the named methods' rows
from the stored methods_comparison.json of an earlier run on the same split (marked as such in the
section), with that run's tu sweep and overlay grid when it keeps ``bpartis``. Figures go to benchmarks/figures/,
the numbers also to benchmarks/figures/methods_comparison.json. The section of BENCHMARKS.md between
the two marker comments is replaced (appended at the end when the markers are missing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
from pathlib import Path

import torch

from imagedataextractor.datasets import default_emps_dir
from imagedataextractor.evaluate import DEFAULT_TU_VALUES, compare_methods, resolve_methods
from imagedataextractor.evaluate.figures import save_overlay_grid, save_sweep_plot
from imagedataextractor.evaluate.report import comparison_table, sweep_table
from imagedataextractor.evaluate.sweep import TuSweep
from imagedataextractor.segment.methods import BPARTIS_MODES
from imagedataextractor.segment.predict import BPartISConfig, get_bpartis

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- methods-comparison:begin (written by benchmarks/methods_comparison.py; edits here are overwritten) -->"
END = "<!-- methods-comparison:end -->"


def replace_section(text: str, section: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with everything between the markers ``begin`` and ``end`` (markers kept) replaced by
    ``section``; the marked section is appended when the markers are absent."""
    block = f"{begin}\n{section.strip()}\n{end}"
    pattern = re.compile(re.escape(begin.split(" (")[0]) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_emps_dir(), help="EMPS-layout directory (default: $IDE_EMPS_DIR or ../shared/emps).")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N images (default: the whole split).")
    parser.add_argument("--methods", default="all", help="'all' or comma-separated method names.")
    parser.add_argument("-T", "--samples", type=int, default=None, help="BPartIS MC samples (default: the model's).")
    parser.add_argument("--bpartis-model", default=None, help="BPartIS model bundle for its three modes (default: the shipped one).")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--compile", action="store_true", help="BPartIS: compiled per-sample network (see `ide evaluate --compile`).")
    parser.add_argument("--flips", action=argparse.BooleanOptionalAction, default=None,
                        help="BPartIS Bayesian: samples over flipped views (default: the model's setting; see `ide evaluate --flips`).")
    parser.add_argument("--grid-images", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="Torch CPU threads.")
    parser.add_argument("--figures", type=Path, default=ROOT / "benchmarks" / "figures")
    parser.add_argument("--benchmarks", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--keep-stored", default="", metavar="METHODS",
                        help="Comma-separated methods whose rows come from the stored methods_comparison.json instead of a rerun "
                             "(with 'bpartis': also its tu sweep and the overlay grid).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    names = resolve_methods(args.methods if args.methods == "all" else args.methods.split(","))
    kept = [name for name in args.keep_stored.split(",") if name]
    stored_path = args.figures / "methods_comparison.json"
    stored = json.loads(stored_path.read_text()) if kept else {"methods": []}
    stored_rows = {row["method"]: row for row in stored["methods"]}
    missing = [name for name in kept if name not in stored_rows or name not in names]
    if missing:
        parser.error(f"--keep-stored: {', '.join(missing)} not among the methods of this run and of {stored_path}")
    rerun = [name for name in names if name not in kept]
    keep_sweep = "bpartis" in kept
    models = {name: args.bpartis_model for name in BPARTIS_MODES if name in rerun and args.bpartis_model}
    # The tu sweep shares the Bayesian modes' MC inference (one per image), with bpartis's model.
    bpartis = BPartISConfig(n_samples=args.samples, precision=args.precision, compile=args.compile, flips=args.flips)
    comparison = compare_methods(args.data, methods=rerun, split=args.split, bpartis=bpartis, models=models, limit=args.limit,
                                 keep_examples=0 if keep_sweep else args.grid_images, tu_values=None if keep_sweep else DEFAULT_TU_VALUES)
    rerun_rows = {evaluation.method: evaluation.to_json() for evaluation in comparison.evaluations}
    rows = [{**stored_rows[name], "stored_from": stored_rows[name].get("stored_from", stored["setting"])} if name in kept
            else rerun_rows[name] for name in names]
    sweep = TuSweep.from_json(stored["tu_sweep"]) if keep_sweep else comparison.sweep
    args.figures.mkdir(parents=True, exist_ok=True)
    grid_path, plot_path = args.figures / "methods_grid.png", args.figures / "tu_sweep.png"
    if not keep_sweep:  # kept: the stored run's pictures stay
        # Methods that ran on none of the example images (e.g. no trained model here) get no column.
        shown = [name for name in names if any(name in example.predictions for example in comparison.examples)]
        save_overlay_grid(grid_path, comparison.examples, shown, cell=192)
        save_sweep_plot(plot_path, sweep)

    model = get_bpartis(args.bpartis_model)
    bundle = model.bundle
    n_images = rows[0]["n_images"] if rows else 0
    subset = "the whole split" if args.limit is None else f"the first {n_images} images of the split (--limit {args.limit})"
    setting = (f"{datetime.date.today():%Y-%m-%d}, {platform.machine()} CPU with {os.cpu_count()} cores, torch threads {args.threads}; "
               f"BPartIS model `{bundle.name}` version `{bundle.version}`, T = {sweep.n_samples}, {args.precision}"
               + (", samples over flipped views" if model.flips(bpartis) else "") + (", compiled (--compile)" if args.compile else ""))
    command = "python benchmarks/methods_comparison.py --data DIR" + (f" --limit {args.limit}" if args.limit else "") + \
        (f" -T {args.samples}" if args.samples else "") + (f" --bpartis-model {args.bpartis_model}" if args.bpartis_model else "") + \
        (f" --precision {args.precision}" if args.precision != "fp32" else "") + (" --compile" if args.compile else "") + \
        {None: "", True: " --flips", False: " --no-flips"}[args.flips] + (f" --keep-stored {args.keep_stored}" if kept else "")
    if kept:
        setting = (f"rerun: {', '.join(rerun)} ({datetime.date.today():%Y-%m-%d}, {platform.machine()} CPU with {os.cpu_count()} cores, "
                   f"torch threads {args.threads}); stored rows of {', '.join(kept)} from the run of {stored['setting']}"
                   + (" (with its tu sweep and overlay grid)" if keep_sweep else ""))

    def rel(path: Path) -> str:
        return os.path.relpath(path.resolve(), args.benchmarks.resolve().parent)

    section = f"""## Method comparison on the EMPS {args.split} split (issue 5)

`{command}` ({setting}). Images: {subset}; every method on the same images, at native resolution,
border particles kept. Metrics are means over images; s/img is the median (shared CPU: an upper bound).
`size cos`, `AR cos`: cosine distance between predicted and true histograms of particle area and of
Feret aspect ratio; `RDF rmse`: RMSE between predicted and true g(r); means over the `n>=30` images
with at least 30 true particles (the paper's selection). Binning: `imagedataextractor/evaluate/analysis.py`.
The paper's figures are its full 99-image test split.

{comparison_table(rows, style="markdown")}

Overlays ({"the stored run's; " if keep_sweep else ""}rows: the first {len(comparison.examples) or args.grid_images} images; columns: ground truth, then each method that ran on them;
captions: particles and F1@0.5):

![overlay grid]({rel(grid_path)})

### Uncertainty threshold sweep (paper Fig. 6)

`ide evaluate --data DIR --sweep-tu` on the same images: one MC inference per image (the one the
Bayesian rows above use), re-filtered at each tu (`*`: the model's default; `none`: no filter, the Bayesian mode). Best tu by AP: {sweep.best("AP"):g}.

{sweep_table(sweep, style="markdown")}

![tu sweep]({rel(plot_path)})
"""
    args.benchmarks.write_text(replace_section(args.benchmarks.read_text() if args.benchmarks.exists() else "# Benchmarks\n", section))
    (args.figures / "methods_comparison.json").write_text(json.dumps(
        {"setting": setting, "command": command, "methods": rows, "tu_sweep": sweep.to_json()},
        indent=1) + "\n")
    print(comparison_table(rows))
    print()
    print(sweep_table(sweep))
    print(f"\nwrote {args.benchmarks}, {grid_path}, {plot_path}")


if __name__ == "__main__":
    main()
