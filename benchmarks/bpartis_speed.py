"""Seconds per image of BPartIS Bayesian inference (512x512, CPU): the package's defaults, today's
and earlier ones, runtime options, and a plain sequential-T loop over the same network, interleaved
image by image in one run.

    python benchmarks/bpartis_speed.py [--model NAME_OR_DIR] [--images N] [--threads 2]
                                       [--configs default,fp32-T30,bf16-T30,bf16-compiled-T30]
                                       [--ide2-seconds 12.5-15.1]

Rows: ``default`` is ``ide segment IMAGE`` with no options (the model's T and flips, precision
``auto``: bf16 only on CPUs with native bf16, see ``segment/precision.py``); ``fp32-T30`` is the
default before issue 32 (fp32, T=30, flipped views); the others are runtime options (see
:func:`row_settings`). The sequential reference runs T=30 full forward passes one after another on
contiguous (NCHW) fp32 tensors with batch norms unfused, no flips, as the original implementation
did; every row clusters with the same code. F1@0.5 is against the EMPS ground truth (border
particles kept). Peak memory: the largest resident-set growth of this process, above its size
before the image, while a row segments it (sampled every 5 ms; MiB).

IDE 2.0.4's own code is not run here: ``--ide2-seconds`` takes its seconds per image measured
elsewhere (the issue's same-run measurement on this CPU: 12.5-15.1 s at T=30) and prints the speed-up
over its midpoint, which is only indicative when not measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from contextlib import contextmanager
from typing import Iterator

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


def row_settings(name: str) -> dict:
    """BPartISConfig settings of a row name: ``default`` (none: the package's defaults) or
    ``PRECISION[-compiled][-T<n>][-no-flips]`` with PRECISION auto, fp32 or bf16; T and flips are
    the model's where not given. E.g. ``fp32-T30`` (the default before issue 32), ``bf16-compiled-T30``."""
    if name == "default":
        return {}
    precision, *rest = name.replace("no-flips", "noflips").split("-")
    settings: dict = {"precision": precision}
    for part in rest:
        if part == "compiled":
            settings["compile"] = True
        elif part == "noflips":
            settings["flips"] = False
        elif part.startswith("T") and part[1:].isdigit():
            settings["n_samples"] = int(part[1:])
        else:
            raise ValueError(part)
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(precision)
    return settings


def resident_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


@contextmanager
def peak_growth() -> Iterator[list[int]]:
    """Yields a one-element list that holds, on exit, the peak resident-set growth (bytes) inside."""
    base, peak, done = resident_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], resident_bytes() - base)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
        peak[0] = max(peak[0], resident_bytes() - base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", default="default,fp32-T30,bf16-T30,bf16-compiled-T30",
                        help="comma-separated rows: default, or PRECISION[-compiled][-T<n>][-no-flips] (PRECISION auto, fp32, bf16)")
    parser.add_argument("--ide2-seconds", default="12.5-15.1", help="IDE 2.0.4's s/image measured elsewhere (a value or a range); '' for none")
    args = parser.parse_args()
    names = args.configs.split(",")
    settings = {}
    for name in names:
        try:
            settings[name] = row_settings(name)
        except ValueError as exc:
            parser.error(f"--configs: {name!r} ({exc}): use default or PRECISION[-compiled][-T<n>][-no-flips]")
    torch.set_num_threads(args.threads)
    samples = load_split(default_emps_dir(), "test")[: args.images]
    model = get_bpartis(args.model)
    configs = {name: BPartISConfig(model=args.model, keep_border=True, **settings[name]) for name in names}
    seconds: dict[str, list[float]] = {name: [] for name in [*names, "sequential"]}
    f1: dict[str, list[float]] = {name: [] for name in seconds}
    memory: dict[str, list[int]] = {name: [] for name in seconds}
    details = {}
    warm_up = samples[0].load()[0]
    for name, config in configs.items():  # allocator, oneDNN kernels, torch.compile
        details[name] = model.segment(warm_up, config).details
    for sample in samples:
        image, truth = sample.load()
        for name, config in configs.items():
            with peak_growth() as peak:
                started = time.perf_counter()
                result = model.segment(image, config)
                seconds[name].append(time.perf_counter() - started)
            memory[name].append(peak[0])
            f1[name].append(evaluate_pair(truth, result.labels)["F1_50"])
        with peak_growth() as peak:
            started = time.perf_counter()
            x = to_input(image, 512)
            labels = sequential(model.network, x, 30, 0, 0.0125)
            labels = torch.nn.functional.interpolate(labels[None, None].float(), size=truth.shape, mode="nearest")[0, 0]
            seconds["sequential"].append(time.perf_counter() - started)
        memory["sequential"].append(peak[0])
        f1["sequential"].append(evaluate_pair(truth, labels.numpy().astype(np.uint16))["F1_50"])
    reference = statistics.median(seconds["sequential"])
    ide2 = [float(v) for v in args.ide2_seconds.split("-")] if args.ide2_seconds else []
    ide2_mid = statistics.mean(ide2) if ide2 else None
    print(f"model {model.bundle.name} ({model.bundle.version}), {len(samples)} EMPS test images, {args.threads} threads, "
          f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    ide2_header = f" | over IDE 2.0.4 ({args.ide2_seconds} s elsewhere; indicative)" if ide2 else ""
    print(f"| row | precision | T | flips | s/image (median) | over sequential{ide2_header} | F1@0.5 | peak memory MiB |")
    print("|---|---|---|---|---|---|" + ("---|" if ide2 else "") + "---|---|")

    def line(label: str, precision: str, n_samples: int, flips: bool, values: list[float], name: str) -> None:
        median = statistics.median(values)
        ide2_cell = f" | {ide2_mid / median:.2f}x" if ide2 else ""
        print(f"| {label} | {precision} | {n_samples} | {'yes' if flips else 'no'} | {median:.2f} | {reference / median:.2f}x{ide2_cell} | "
              f"{np.mean(f1[name]):.3f} | {max(memory[name]) / 2**20:.0f} |")

    for name in names:
        info = details[name]
        line(name, info["precision"], info["n_samples"], info["flips"], seconds[name], name)
    line("sequential T passes (unfused, NCHW)", "fp32", 30, False, seconds["sequential"], "sequential")


if __name__ == "__main__":
    main()
