"""BPartIS metrics as a function of T (MC dropout samples), paired per image against T_max, with the
decision rule of issue 32 applied.

    python benchmarks/samples_sweep.py [--data DIR] [--split val] [--samples 6,12,18,24,30] [--seeds 0]
                                       [--precision fp32] [--model NAME_OR_DIR] [--rows CSV] [--limit N]

One MC inference per image and seed at the largest T (the model's flips setting, batches of 3); every
smaller T (a multiple of 3) is the prefix of its batches: batch b of a run is the same whatever T, and
the first T/3 batches are spread over the flipped views exactly as a run of T samples spreads its own
(see :func:`~imagedataextractor.segment.predict.mc_batches`). So each T is a genuine T-sample
estimate, the T's of one seed share their first samples (which makes the comparison paired more
tightly than independent runs would), and the sweep costs one run at the largest T.

Scored in the default mode (Bayesian + filter at the model's tu) and unfiltered, border particles
kept, at the image's native resolution, as ``ide evaluate``. Printed, as Markdown: the mean of each
metric per T and mode; then, for each smaller T, the paired difference (T minus T_max) of each image's
metrics averaged over the seeds, mean +- standard error over images; then the rule's verdict.

Decision rule (fixed before the experiment, issue 32): a smaller T may become the default only if no
metric of the default mode among AP50, AP75, mIoU, F1@0.5 and COCO mAP is lower than T_max's by more
than one paired standard error; the choice is the smallest T for which that holds and holds for every
larger T swept too.
"""

from __future__ import annotations

import argparse
import math

import pandas as pd
import torch
from tqdm import tqdm

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate import evaluate_pair
from imagedataextractor.evaluate.metrics import METRIC_KEYS
from imagedataextractor.evaluate.report import render
from imagedataextractor.evaluate.sweep import MCPrediction
from imagedataextractor.segment.cluster import cluster_outputs
from imagedataextractor.segment.predict import BPartISConfig, get_bpartis, mc_batches, reduce_mc_batches, to_input

#: The metrics the rule guards, in the default mode.
RULE_METRICS = ("AP50", "AP75", "mIoU", "F1_50", "mAP_coco")
MODES = ("bayesian+filter", "bayesian")


def image_rows(config: BPartISConfig, samples: list, sample_counts: list[int], seeds: list[int]) -> list[dict]:
    """One row per (seed, T, mode, image) with :data:`METRIC_KEYS` and the instances kept."""
    model = get_bpartis(config.model)
    defaults = model.bundle.config
    tu = float(defaults.get("tu", 0.0125))
    network = model.inference_network(config.precision)
    largest = max(sample_counts)
    rows = []
    for seed in seeds:
        for sample in tqdm(samples, desc=f"seed {seed}"):
            image, truth = sample.load()
            x = to_input(image, int(defaults.get("input_size", 512))).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                batches = list(mc_batches(network, x, largest, seed=seed, batch_size=config.batch_size, flips=model.flips(config)))
                for n_samples in sample_counts:
                    raw, information, _foreground = reduce_mc_batches(network, [b for b in batches if b.index * config.batch_size < n_samples])
                    clusters = cluster_outputs(raw, seed_threshold=float(defaults.get("seed_threshold", 0.5)),
                                               min_size=int(defaults.get("min_size", 128)))
                    prediction = MCPrediction(clusters.labels, clusters.scores, information, truth.shape)
                    for mode, threshold in zip(MODES, (tu, math.inf)):
                        labels, scores = prediction.at_tu(threshold)
                        rows.append({"seed": seed, "T": n_samples, "mode": mode, "image": sample.name,
                                     **evaluate_pair(truth, labels, scores=scores), "kept": int(labels.max())})
    return rows


def paired(rows: pd.DataFrame, n_samples: int, reference: int, mode: str) -> pd.DataFrame:
    """Per metric: mean and standard error over images of (T minus reference), seeds averaged first."""
    per_image = rows[rows["mode"] == mode].groupby(["T", "image"])[list(METRIC_KEYS)].mean()
    difference = (per_image.loc[n_samples] - per_image.loc[reference]).dropna(how="all")
    return pd.DataFrame({"mean": difference.mean(), "se": difference.std() / difference.count().pow(0.5)})


def choose(rows: pd.DataFrame, sample_counts: list[int]) -> int:
    """The rule of the module docstring: the smallest T passing, with every larger T passing too."""
    reference = max(sample_counts)
    chosen = reference
    for n_samples in sorted(sample_counts, reverse=True)[1:]:
        check = paired(rows, n_samples, reference, MODES[0]).loc[list(RULE_METRICS)]
        if (check["mean"] < -check["se"]).any():
            break
        chosen = n_samples
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--data", default=str(default_emps_dir()))
    parser.add_argument("--split", default="val")
    parser.add_argument("--samples", default="6,12,18,24,30", help="T values, multiples of the batch size (3)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", default=None, help="write the per-image rows to this CSV")
    parser.add_argument("--from-rows", default=None, help="summarise a CSV written by --rows instead of running")
    args = parser.parse_args()
    sample_counts = sorted(int(t) for t in args.samples.split(","))
    config = BPartISConfig(model=args.model, precision=args.precision)
    if any(t % config.batch_size for t in sample_counts):
        parser.error(f"--samples must be multiples of the batch size {config.batch_size}")
    if args.from_rows:
        rows = pd.read_csv(args.from_rows)
        sample_counts = sorted(int(t) for t in rows["T"].unique())
    else:
        torch.set_num_threads(args.threads)
        samples = load_split(args.data, args.split)[: args.limit]
        rows = pd.DataFrame(image_rows(config, samples, sample_counts, [int(s) for s in args.seeds.split(",")]))
        if args.rows:
            rows.to_csv(args.rows, index=False)
    reference = max(sample_counts)
    seeds = sorted(int(seed) for seed in rows['seed'].unique())
    print(f"{rows['image'].nunique()} images of {args.data} ({args.split}), seeds {seeds}, {args.precision}\n")
    means = rows.groupby(["mode", "T"], sort=False)[list(METRIC_KEYS)].mean()
    print(render(["mode", "T", *METRIC_KEYS], [[mode, str(t), *(f"{v:.3f}" for v in values)] for (mode, t), values in means.iterrows()],
                 style="markdown"))
    print(f"\npaired per image, T minus T={reference} (mean +- standard error):\n")
    table = []
    for mode in MODES:
        for n_samples in sample_counts[:-1]:
            check = paired(rows, n_samples, reference, mode)
            table.append([mode, str(n_samples), *(f"{check.loc[c, 'mean']:+.3f} +- {check.loc[c, 'se']:.3f}" for c in METRIC_KEYS)])
    print(render(["mode", "T", *METRIC_KEYS], table, style="markdown"))
    print(f"\nrule (default mode; {', '.join(RULE_METRICS)} none lower by more than one SE, every larger T too): T = {choose(rows, sample_counts)}")


if __name__ == "__main__":
    main()
