"""Two BPartIS models compared image by image on an EMPS split, over several dropout seeds, with the
paper AP taken apart.

    python benchmarks/paired_models.py --model bpartis-emps [--baseline NAME_OR_DIR] [--data DIR]
                                       [--split test] [--seeds 0,1,2] [--precision bf16] [--limit N] [--rows CSV]

One MC inference per image, model and seed (T and flips: each model's defaults), scored in the
Bayesian + filter mode (the model's tu) and the unfiltered Bayesian mode, border particles kept, at
the image's native resolution (as ``ide evaluate``). Printed, as Markdown:

1. the mean over images of each metric per model, mode and seed, with ``r0`` and ``r95``: the recall
   at IoU threshold 0 (a ground-truth particle overlapped by any prediction) and at 0.95, and
   ``kept``, the instances predicted on all images. The paper AP integrates the precision envelope
   over recall from r95 to r0, so it is roughly precision x (r0 - r95): it rises with recall at any
   overlap and falls when more particles are matched at IoU > 0.95;
2. the spread over seeds: mean and standard deviation of those means;
3. with ``--baseline``: the paired difference (model minus baseline) of each image's metrics
   averaged over the seeds, as mean +- standard error over images.
"""

from __future__ import annotations

import argparse
import math

import pandas as pd
import torch
from tqdm import tqdm

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate import evaluate_pair
from imagedataextractor.evaluate.metrics import METRIC_KEYS, paper_metrics
from imagedataextractor.evaluate.report import render
from imagedataextractor.evaluate.sweep import mc_prediction
from imagedataextractor.segment.predict import BPartISConfig, get_bpartis

COLUMNS = (*METRIC_KEYS, "r0", "r95")
MODES = ("bayesian+filter", "bayesian")


def image_rows(model: str, samples: list, seeds: list[int], precision: str) -> list[dict]:
    """One row per (seed, mode, image): metrics, r0, r95 and the instances kept."""
    tu = float(get_bpartis(model).bundle.config.get("tu", 0.0125))
    rows = []
    for seed in seeds:
        config = BPartISConfig(model=model, precision=precision, seed=seed)
        for sample in tqdm(samples, desc=f"{model} seed {seed}"):
            image, truth = sample.load()
            prediction = mc_prediction(image, config)
            for mode, threshold in zip(MODES, (tu, math.inf)):
                labels, scores = prediction.at_tu(threshold)
                recall = paper_metrics(truth, labels).recall
                rows.append({"model": model, "seed": seed, "mode": mode, "image": sample.name,
                             **evaluate_pair(truth, labels, scores=scores), "r0": recall[0], "r95": recall[-1],
                             "kept": int(labels.max())})
    return rows


def cells(values: pd.Series) -> list[str]:
    return [f"{values[column]:.3f}" for column in COLUMNS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="name or bundle directory (default: the shipped model)")
    parser.add_argument("--baseline", default=None, help="a second model, compared image by image")
    parser.add_argument("--data", default=str(default_emps_dir()))
    parser.add_argument("--split", default="test")
    parser.add_argument("--seeds", default="0,1,2", help="dropout seeds, comma-separated")
    parser.add_argument("--precision", default="bf16", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", default=None, help="also write the per-image rows (model, seed, mode, image, metrics) to this CSV")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    samples = load_split(args.data, args.split)[: args.limit]
    models = [args.model or get_bpartis().bundle.name] + ([args.baseline] if args.baseline else [])
    rows = pd.DataFrame([row for model in models for row in image_rows(model, samples, seeds, args.precision)])
    if args.rows:
        rows.to_csv(args.rows, index=False)

    print(f"{len(samples)} images of {args.data} ({args.split}), seeds {args.seeds}, {args.precision}\n")
    means = rows.groupby(["model", "mode", "seed"], sort=False)[list(COLUMNS)].mean()
    kept = rows.groupby(["model", "mode", "seed"], sort=False)["kept"].sum()
    print(render(["model", "mode", "seed", *COLUMNS, "kept"],
                 [[*key[:2], str(key[2]), *cells(values), str(kept[key])] for key, values in means.iterrows()], style="markdown"))
    print()
    over_seeds = means.groupby(["model", "mode"], sort=False)
    print(render(["model", "mode", *COLUMNS],
                 [[*key, *(f"{mean:.3f} +- {sd:.3f}" for mean, sd in zip(over_seeds.mean().loc[key], over_seeds.std().fillna(0.0).loc[key]))]
                  for key in over_seeds.groups], style="markdown"))
    if args.baseline:
        print()
        per_image = rows.groupby(["model", "mode", "image"])[list(COLUMNS)].mean()
        table = []
        for mode in MODES:
            difference = per_image.loc[(models[0], mode)] - per_image.loc[(models[1], mode)]
            table.append([mode, *(f"{difference[c].mean():+.3f} +- {difference[c].std() / math.sqrt(difference[c].count()):.3f}"
                                  for c in COLUMNS)])
        print(f"paired, {models[0]} minus {models[1]} (each image's metrics averaged over the seeds; mean +- standard error):\n")
        print(render(["mode", *COLUMNS], table, style="markdown"))


if __name__ == "__main__":
    main()
