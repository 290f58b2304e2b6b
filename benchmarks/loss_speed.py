"""Seconds per training batch of the BPartIS loss (forward + backward, 512x512, CPU): the sparse
loss that training uses (pairs with phi <= PHI_FLOOR left out of each instance's Lovasz hinge)
against the exact formula over every (instance, pixel) pair, in one run on the same outputs.

    python benchmarks/loss_speed.py [--model NAME_OR_DIR] [--batches 6] [--threads 2]

The outputs are a trained model's (default the shipped bundle, dropout active as in training) on
batches of 5 EMPS train images resized to 512 px: the batch with the most particles, then random
batches. On an untrained network phi is broad, few pairs are left out and the two cost about the same.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np
import torch

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.models.registry import resolve
from imagedataextractor.segment.erfnet import load_network
from imagedataextractor.train.data import resize_pair
from imagedataextractor.train.losses import PHI_FLOOR, bpartis_loss

BATCH = 5
SIZE = 512


def timed_loss(raw: torch.Tensor, labels: torch.Tensor, phi_floor: float | None) -> tuple[float, float]:
    """(seconds, loss value) of one forward + backward of the batch's loss. Image by image, each
    backward before the next image (the same gradient as the batch mean's), so that the exact
    formula's graph of a crowded image fits in memory (a whole such batch at once took over 24 GB)."""
    raw = raw.clone().requires_grad_(True)
    total = 0.0
    started = time.perf_counter()
    for index in range(len(raw)):
        loss = bpartis_loss(raw[index : index + 1], labels[index : index + 1], phi_floor=phi_floor) / len(raw)
        loss.backward()
        total += loss.item()
    return time.perf_counter() - started, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="EMPS-layout directory (default: $IDE_EMPS_DIR or ../shared/emps).")
    parser.add_argument("--model", default=None, help="BPartIS model bundle (default: the shipped one).")
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    samples = load_split(args.data or default_emps_dir(), "train")
    pairs = [resize_pair(*sample.load(), SIZE) for sample in samples]
    counts = [len(np.unique(labels)) - 1 for _, labels in pairs]
    heaviest = list(np.argsort(counts)[-BATCH:])
    rng = random.Random(0)
    batches = [heaviest] + [rng.sample(range(len(pairs)), BATCH) for _ in range(args.batches - 1)]
    network = load_network(resolve(args.model), "cpu").train()
    # Warm up both paths (first-call allocations) on a small batch.
    warm_x = torch.zeros(1, 3, 64, 64)
    warm_labels = torch.zeros(1, 64, 64, dtype=torch.int64)
    warm_labels[0, 10:20, 10:20] = 1
    with torch.no_grad():
        warm = network(warm_x)
    for phi_floor in (PHI_FLOOR, None):
        timed_loss(warm, warm_labels, phi_floor)
    print("| batch | particles | sparse s | exact s | speed-up | loss sparse | loss exact |\n|---|---|---|---|---|---|---|")
    speedups = []
    for number, batch in enumerate(batches):
        images = torch.from_numpy(np.stack([pairs[i][0] for i in batch])).permute(0, 3, 1, 2).float() / 255.0
        labels = torch.from_numpy(np.stack([pairs[i][1] for i in batch])).long()
        with torch.no_grad():
            raw = network(images)
        sparse_s, sparse_loss = timed_loss(raw, labels, PHI_FLOOR)
        exact_s, exact_loss = timed_loss(raw, labels, None)
        speedups.append(exact_s / sparse_s)
        name = "most particles" if number == 0 else f"random {number}"
        print(f"| {name} | {sum(counts[i] for i in batch)} | {sparse_s:.2f} | {exact_s:.2f} | {exact_s / sparse_s:.1f}x "
              f"| {sparse_loss:.6f} | {exact_loss:.6f} |")
    print(f"median speed-up {statistics.median(speedups):.1f}x over {len(batches)} batches")


if __name__ == "__main__":
    main()
