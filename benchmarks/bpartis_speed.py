"""Seconds per image of BPartIS Bayesian inference (T samples, 512x512, CPU): this package's
batched implementation against a plain sequential-T loop over the same network, in one run.

    python benchmarks/bpartis_speed.py [--model NAME_OR_DIR] [--images N] [--samples 30] [--threads 2]

Both paths cluster the mean output with the same code; the sequential one runs T full forward
passes one after another on contiguous (NCHW) tensors, as the original implementation did.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples = load_split(default_emps_dir(), "test")[: args.images]
    model = get_bpartis(args.model)
    config = BPartISConfig(model=args.model, n_samples=args.samples, keep_border=True, precision=args.precision)
    ours_s, seq_s, ours_f1, seq_f1 = [], [], [], []
    model.segment(samples[0].load()[0], config)  # warm-up (allocator, oneDNN kernels)
    for sample in samples:
        image, truth = sample.load()
        started = time.perf_counter()
        result = model.segment(image, config)
        ours_s.append(time.perf_counter() - started)
        ours_f1.append(evaluate_pair(truth, result.labels)["F1_50"])
        started = time.perf_counter()
        x = to_input(image, 512)
        labels = sequential(model.network, x, args.samples, 0, 0.0125)
        labels = torch.nn.functional.interpolate(labels[None, None].float(), size=truth.shape, mode="nearest")[0, 0]
        seq_s.append(time.perf_counter() - started)
        seq_f1.append(evaluate_pair(truth, labels.numpy().astype(np.uint16))["F1_50"])
    print(f"model {model.bundle.name} ({model.bundle.version}), T={args.samples}, {len(samples)} EMPS test images, {args.threads} threads")
    print(f"ours (BN folded, stem once, batches of 3, channels_last, {args.precision}): {statistics.median(ours_s):.2f} s/image, F1@0.5 {np.mean(ours_f1):.3f}")
    print(f"sequential T passes (unfused, NCHW, fp32):                 {statistics.median(seq_s):.2f} s/image, F1@0.5 {np.mean(seq_f1):.3f}")
    print(f"speed-up: {statistics.median(seq_s) / statistics.median(ours_s):.2f}x")


if __name__ == "__main__":
    main()
