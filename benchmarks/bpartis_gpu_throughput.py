"""Images per second of BPartIS Bayesian inference on a GPU: one image at a time against several
images' MC samples per forward batch (``BPartIS.segment_many``), on the same EMPS test images.

    python benchmarks/bpartis_gpu_throughput.py [--device cuda] [--images 64] [--samples 30]
                                                [--images-per-batch N] [--precision fp32]

Run on the machine with the GPU (issue 32's goal: at least 50 images/s on one H100-class GPU at
T=30). ``--images-per-batch`` fixes the group size; by default it is sized to the GPU's free memory
(from the memory the first image took). Clustering runs on a CPU thread, overlapped with the next
group. Prints the device, the group size, images/s of both paths and whether their instance maps
agree (the masks are each image's own in the batched path, so on a GPU they are other valid samples
than the per-image path's; F1@0.5 of both is printed). ``--device cpu --images 4 --images-per-batch 2
--samples 6`` runs it anywhere as a check.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate import evaluate_pair
from imagedataextractor.segment.predict import BPartISConfig, get_bpartis


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default=None)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--images-per-batch", type=int, default=None)
    parser.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16"))
    args = parser.parse_args()
    loaded = [sample.load() for sample in load_split(default_emps_dir(), "test")[: args.images]]
    images = [image for image, _ in loaded]
    model = get_bpartis(args.model, args.device)
    config = BPartISConfig(model=args.model, n_samples=args.samples, precision=args.precision, keep_border=True, device=args.device)
    model.segment(images[0], config)  # warm-up: kernels, allocator
    list(model.segment_many(images[:2], config, args.images_per_batch or 2))
    synchronise(args.device)

    started = time.perf_counter()
    alone = [model.segment(image, config) for image in images]
    synchronise(args.device)
    alone_seconds = time.perf_counter() - started

    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(args.device)
    started = time.perf_counter()
    grouped = list(model.segment_many(images, config, args.images_per_batch))
    synchronise(args.device)
    grouped_seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(args.device) / 2**30 if args.device.startswith("cuda") else float("nan")

    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    same = sum(np.array_equal(a.labels, b.labels) for a, b in zip(alone, grouped))
    f1_alone = np.mean([evaluate_pair(truth, result.labels)["F1_50"] for (_, truth), result in zip(loaded, alone)])
    f1_grouped = np.mean([evaluate_pair(truth, result.labels)["F1_50"] for (_, truth), result in zip(loaded, grouped)])
    print(f"{name}, {len(images)} EMPS test images, T={args.samples}, {alone[0].details['precision']}, torch {torch.__version__}")
    print("| path | images/s | s/image | F1@0.5 |")
    print("|---|---|---|---|")
    print(f"| one image at a time | {len(images) / alone_seconds:.2f} | {alone_seconds / len(images):.3f} | {f1_alone:.3f} |")
    print(f"| grouped ({args.images_per_batch or 'sized to memory'} images per batch; peak {peak:.1f} GiB) | "
          f"{len(images) / grouped_seconds:.2f} | {grouped_seconds / len(images):.3f} | {f1_grouped:.3f} |")
    print(f"instance maps identical on {same} of {len(images)} images")


if __name__ == "__main__":
    main()
