"""Seconds per image of BPartIS Bayesian inference (T samples, 512x512, CPU): this package's
batched implementation against a plain sequential-T loop over the same network, in one run.

    python benchmarks/bpartis_speed.py [--model NAME_OR_DIR] [--images N] [--samples 30] [--threads 2]
                                       [--configs fp32,bf16,bf16-compiled]

Both paths cluster the mean output with the same code; the sequential one runs T full forward
passes one after another on contiguous (NCHW) tensors, as the original implementation did. The
``-flips`` configurations spread the same T samples over the image and its three flips (the
sequential reference never flips, so their F1 may differ).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate import evaluate_pair
from imagedataextractor.segment.cluster import cluster_outputs
from imagedataextractor.segment.predict import BPartISConfig, get_bpartis, mc_dropout, to_input
from imagedataextractor.segment.uncertainty import binary_entropy, filter_uncertain


def sequential(network, x, n_samples, seed, tu):
    """The reference: T separate full passes, outputs stacked, then reduced."""
    with torch.inference_mode(), mc_dropout(network, seed):
        outputs = torch.cat([network(x) for _ in range(n_samples)])
    probabilities = torch.sigmoid(outputs[:, 4])
    information = binary_entropy(probabilities.mean(0)) - binary_entropy(probabilities).mean(0)
    labels = cluster_outputs(outputs.mean(0)).labels
    return filter_uncertain(labels, information, tu)[0]


#: The configurations of ours that can be timed: name -> (precision, compiled, samples over flipped views).
CONFIGS = {"fp32": ("fp32", False, False), "bf16": ("bf16", False, False), "bf16-compiled": ("bf16", True, False),
           "fp32-compiled": ("fp32", True, False), "bf16-flips": ("bf16", False, True), "bf16-compiled-flips": ("bf16", True, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", default="fp32,bf16,bf16-compiled", help=f"comma-separated, of {', '.join(CONFIGS)}")
    args = parser.parse_args()
    names = args.configs.split(",")
    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown --configs {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    torch.set_num_threads(args.threads)
    samples = load_split(default_emps_dir(), "test")[: args.images]
    model = get_bpartis(args.model)
    configs = {}
    for name in names:
        precision, compiled, flips = CONFIGS[name]
        configs[name] = BPartISConfig(model=args.model, n_samples=args.samples, keep_border=True, precision=precision, compile=compiled,
                                      flips=flips)
    seconds: dict[str, list[float]] = {name: [] for name in [*names, "sequential"]}
    f1: dict[str, list[float]] = {name: [] for name in seconds}
    warm_up = samples[0].load()[0]
    for config in configs.values():  # allocator, oneDNN kernels, torch.compile
        model.segment(warm_up, config)
    for sample in samples:
        image, truth = sample.load()
        for name, config in configs.items():
            started = time.perf_counter()
            result = model.segment(image, config)
            seconds[name].append(time.perf_counter() - started)
            f1[name].append(evaluate_pair(truth, result.labels)["F1_50"])
        started = time.perf_counter()
        x = to_input(image, 512)
        labels = sequential(model.network, x, args.samples, 0, 0.0125)
        labels = torch.nn.functional.interpolate(labels[None, None].float(), size=truth.shape, mode="nearest")[0, 0]
        seconds["sequential"].append(time.perf_counter() - started)
        f1["sequential"].append(evaluate_pair(truth, labels.numpy().astype(np.uint16))["F1_50"])
    reference = statistics.median(seconds["sequential"])
    print(f"model {model.bundle.name} ({model.bundle.version}), T={args.samples}, {len(samples)} EMPS test images, {args.threads} threads")
    print("| implementation | s/image (median) | speed-up | F1@0.5 |")
    print("|---|---|---|---|")
    for name in names:
        label = f"ours, {name} (BN folded, stem once{' per view' if CONFIGS[name][2] else ''}, batches of 3, channels_last)"
        median = statistics.median(seconds[name])
        print(f"| {label} | {median:.2f} | {reference / median:.2f}x | {np.mean(f1[name]):.3f} |")
    print(f"| sequential T passes (unfused, NCHW, fp32) | {reference:.2f} | 1.00x | {np.mean(f1['sequential']):.3f} |")


if __name__ == "__main__":
    main()
