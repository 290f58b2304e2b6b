"""Agreement of particle statistics with hand labels (issue 31): the BPartIS paper's particle-
analysis check (size and aspect-ratio histogram cosine distances, RDF RMSE) on the EMPS test images
with at least 30 labelled particles, for this package's BPartIS and for ImageDataExtractor 2.0.4's
own segmenter on the same images, scored by the same code (``imagedataextractor.evaluate.analysis``).

    pip download imagedataextractor==2.0.4 --no-deps -d /tmp/ide204 && unzip -q /tmp/ide204/*.whl -d /tmp/ide204/wheel
    python benchmarks/agreement.py --wheel /tmp/ide204/wheel --checkpoint ../shared/reference/bpartis-ide2.0.4-seg-model.pt --cache /tmp/agreement

Each segmenter runs once per image; its instance maps (with and without the uncertainty filter) are
cached as ``CACHE/<segmenter>/<image>.npz`` and reused, so the analysis can be re-scored without
running a network. Per-image distances go to ``--out`` (CSV); the means, the paired differences
(ours - original) with their standard errors over images, and the paper's figures are printed and
written to the marked section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate.analysis import ANALYSIS_KEYS, MIN_GT_PARTICLES, PAPER_ANALYSIS, compare_stats, particle_stats
from imagedataextractor.evaluate.sweep import mc_prediction
from imagedataextractor.segment.predict import BPartISConfig, get_bpartis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ide2_original import load_original  # noqa: E402  (a sibling benchmark script)

ROOT = Path(__file__).resolve().parent.parent
#: Cached maps per segmenter: "filtered" (Bayesian + uncertainty filter, the paper's row) and
#: "unfiltered" (the same MC inference before the filter).
VARIANTS = ("filtered", "unfiltered")
SEGMENTERS = ("ours", "ide2")


def n_instances(labels: np.ndarray) -> int:
    return int(np.count_nonzero(np.unique(labels)))


def cache_ours(image: np.ndarray, config: BPartISConfig) -> dict[str, np.ndarray]:
    """This package's default BPartIS (model, T, flips, precision), border particles kept."""
    prediction = mc_prediction(image, config)
    tu = float(get_bpartis(config.model, config.device).bundle.config.get("tu", 0.0125))
    return {"filtered": prediction.at_tu(tu)[0], "unfiltered": prediction.at_tu(math.inf)[0]}


def cache_ide2(image: np.ndarray, segmenter) -> dict[str, np.ndarray]:
    """IDE 2.0.4's ``ParticleSegmenter.segment``: (filtered, uncertainty, unfiltered) maps."""
    with torch.no_grad():
        filtered, _, unfiltered = segmenter.segment(image)
    return {"filtered": filtered.astype(np.uint16), "unfiltered": unfiltered.astype(np.uint16)}


def fill_cache(samples: list, cache: Path, wheel: Path | None, checkpoint: Path | None, seed: int) -> None:
    """Segment every sample not yet cached, with both segmenters (IDE 2.0.4's global seed set once,
    before its first image, as its users run it)."""
    missing = [s for s in samples if not all((cache / who / f"{s.name}.npz").exists() for who in SEGMENTERS)]
    if not missing:
        return
    config = BPartISConfig(seed=seed)
    with tempfile.TemporaryDirectory() as workdir:
        original = None
        if any(not (cache / "ide2" / f"{s.name}.npz").exists() for s in missing):
            if wheel is None or checkpoint is None:
                raise SystemExit("--wheel and --checkpoint are needed to segment images not in the cache")
            original = load_original(wheel, checkpoint, Path(workdir))(bayesian=True, n_samples=30, tu=0.0125, device="cpu")
            torch.manual_seed(seed)
        for sample in tqdm(missing, desc="segment"):
            image, _ = sample.load()
            for who in SEGMENTERS:
                path = cache / who / f"{sample.name}.npz"
                if path.exists():
                    continue
                maps = cache_ours(image, config) if who == "ours" else cache_ide2(image, original)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(path, **maps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, default=None, help="Unpacked imagedataextractor 2.0.4 wheel (needed unless all maps are cached).")
    parser.add_argument("--checkpoint", type=Path, default=None, help="The original seg-model.pt.")
    parser.add_argument("--data", type=Path, default=default_emps_dir())
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache", type=Path, required=True, help="Directory of the cached instance maps.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--segment-only", action="store_true", help="Fill the cache and stop.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples = []
    for sample in load_split(args.data, args.split):
        if n_instances(sample.load()[1]) >= MIN_GT_PARTICLES:
            samples.append(sample)
    fill_cache(samples, args.cache, args.wheel, args.checkpoint, args.seed)
    if args.segment_only:
        print(f"{len(samples)} images cached in {args.cache}")
        return


if __name__ == "__main__":
    main()
