"""Scalebar-reading benchmark: synthetic scalebars with exact truth, and the labelled real EMPS set.

    python benchmarks/scalebar_benchmark.py                    # 300 synthetic + real set
    python benchmarks/scalebar_benchmark.py --synthetic 50 --no-real --verbose

Prints, per set: value+unit accuracy, bar-length error (median, share within 2 %) over the images
whose value and unit were read right, the share right on both counts, and seconds per image. The
synthetic set also reports false scalebars on bare micrograph crops (no bar drawn).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from imagedataextractor.datasets import default_emps_dir  # noqa: E402
from imagedataextractor.imageio import read_image  # noqa: E402
from imagedataextractor.scalebar import Scalebar, read_scalebar  # noqa: E402
from imagedataextractor.synth import micrograph_crop, synthetic_scalebar  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    value: float
    unit: str
    length_px: float
    result: Scalebar
    seconds: float

    @property
    def value_ok(self) -> bool:
        return self.result.unit == self.unit and self.result.value is not None and abs(self.result.value - self.value) < 1e-6 * self.value

    @property
    def length_error(self) -> float | None:
        return None if self.result.length_px is None else abs(self.result.length_px - self.length_px) / self.length_px


def timed(image: np.ndarray) -> tuple[Scalebar, float]:
    start = time.perf_counter()
    result = read_scalebar(image)
    return result, time.perf_counter() - start


def report(title: str, cases: list[Case], verbose: bool) -> dict[str, float]:
    n = len(cases)
    right = [c for c in cases if c.value_ok]
    errors = [c.length_error for c in right if c.length_error is not None]
    within = [e for e in errors if e <= 0.02]
    both = len(within)
    summary = {
        "n": n,
        "value_unit_accuracy": len(right) / n,
        "bar_found": sum(c.result.found for c in cases) / n,
        "length_median_error": statistics.median(errors) if errors else float("nan"),
        "length_within_2pct": len(within) / len(errors) if errors else float("nan"),
        "value_and_length_right": both / n,
        "seconds_per_image": sum(c.seconds for c in cases) / n,
    }
    print(f"\n{title}: {n} images")
    print(f"  value+unit right         {len(right)}/{n} = {summary['value_unit_accuracy']:.1%}")
    print(f"  bar found                {summary['bar_found']:.1%}")
    print(f"  bar length (value right) median error {summary['length_median_error']:.2%}, within 2%: {len(within)}/{len(errors)} = {summary['length_within_2pct']:.1%}")
    print(f"  value+unit and length    {both}/{n} = {summary['value_and_length_right']:.1%}")
    print(f"  seconds per image        {summary['seconds_per_image']:.3f}")
    if verbose:
        for c in cases:
            if not c.value_ok or c.length_error is None or c.length_error > 0.02:
                r = c.result
                got = "no bar" if not r.found else f"{r.text!r} -> {r.value} {r.unit}, {r.length_px:.1f} px"
                print(f"    MISS {c.name}: truth {c.value:g} {c.unit} {c.length_px:.1f} px | {got}")
    return summary


def synthetic_cases(n: int, seed: int, sources: list[Path]) -> list[Case]:
    cases = []
    for s in range(seed, seed + n):
        case = synthetic_scalebar(s, sources=sources)
        result, seconds = timed(case.image)
        t = case.truth
        cases.append(Case(f"seed {s} ({case.style.bar_shape}, {case.style.bar_colour}, {t.text!r})", t.value, t.unit, t.length_px, result, seconds))
    return cases


def bare_false_positives(n: int, seed: int, sources: list[Path]) -> tuple[float, float]:
    """Shares of bare micrograph crops (no bar drawn) on which a bar, and a scalebar value, are
    reported."""
    bars = values = 0
    for s in range(seed, seed + n):
        rng = np.random.default_rng(s)
        result = read_scalebar(micrograph_crop(read_image(sources[int(rng.integers(len(sources)))]), rng=rng))
        bars += result.found
        values += result.value is not None
    return bars / n, values / n


def real_cases(labels: Path, images: Path) -> list[Case]:
    cases = []
    with labels.open(newline="") as f:
        for row in csv.DictReader(f):
            result, seconds = timed(read_image(images / row["filename"]))
            cases.append(Case(row["filename"], float(row["value"]), row["unit"], float(row["bar_length_px"]), result, seconds))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=300, help="number of synthetic cases (0: none)")
    parser.add_argument("--bare", type=int, default=100, help="bare crops checked for false scalebars")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--emps-dir", type=Path, default=default_emps_dir())
    parser.add_argument("--labels", type=Path, default=REPO / "corpus" / "scalebar" / "real_labels.csv")
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    images = args.emps_dir / "images"
    sources = sorted(images.glob("*.png"))
    if not sources:
        sys.exit(f"no EMPS images under {images} (set --emps-dir or IDE_EMPS_DIR)")
    if args.synthetic:
        report("synthetic", synthetic_cases(args.synthetic, args.seed, sources), args.verbose)
    if args.bare:
        bars, values = bare_false_positives(args.bare, args.seed + 10**6, sources)
        print(f"\nbare micrograph crops ({args.bare}): a bar reported on {bars:.1%}, a scalebar value on {values:.1%}")
    if not args.no_real:
        report("real (labelled EMPS)", real_cases(args.labels, images), args.verbose)


if __name__ == "__main__":
    main()
