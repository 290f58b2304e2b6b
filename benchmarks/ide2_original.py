"""The original ImageDataExtractor 2.0.4 segmenter (its own ``ParticleSegmenter``: Bayesian, T=30,
tu 0.0125, fp32) on the EMPS test split, scored with this package's metrics; per-image rows to a CSV
and means printed, for comparison with ``ide evaluate`` on the imported checkpoint.

    pip download imagedataextractor==2.0.4 --no-deps -d /tmp/ide204 && unzip -q /tmp/ide204/*.whl -d /tmp/ide204/wheel
    python benchmarks/ide2_original.py --wheel /tmp/ide204/wheel --checkpoint ../shared/reference/bpartis-ide2.0.4-seg-model.pt

With ``--same-masks``, each image is instead segmented twice with the same dropout masks, by the
original and by this package on the imported checkpoint (``ide models import``; one sample per batch
draws the masks in the original's order), and the instance maps are compared pixel by pixel: a check
that the two pipelines compute the same thing, which the seed-to-seed spread of a whole-split run
cannot show.

Only the wheel's ``segment`` package is used (it needs torch, numpy and Pillow; the rest of 2.0.4
does not run on Python 3.11). It is copied beside the checkpoint into a temporary package, where
its ``ParticleSegmenter`` looks for ``models/seg-model.pt``. Particles on the border are kept, as
``ide evaluate`` keeps them.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate import evaluate_pair
from imagedataextractor.evaluate.metrics import paper_metrics
from imagedataextractor.segment.ide2_checkpoint import import_ide2_checkpoint
from imagedataextractor.segment.predict import BPartISConfig, get_bpartis

SUMMARY = ["AP", "AP50", "AP75", "mIoU", "F1_50"]


def load_original(wheel: Path, checkpoint: Path, workdir: Path):
    """IDE 2.0.4's ``ParticleSegmenter`` class, from an unpacked wheel, reading ``checkpoint``."""
    package = workdir / "ide2orig"
    shutil.copytree(wheel / "imagedataextractor" / "segment", package / "segment")
    (package / "models").mkdir()
    shutil.copy(checkpoint, package / "models" / "seg-model.pt")
    (package / "__init__.py").touch()
    sys.path.insert(0, str(workdir))
    return importlib.import_module("ide2orig.segment.model").ParticleSegmenter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="Directory of the unpacked imagedataextractor 2.0.4 wheel.")
    parser.add_argument("--checkpoint", type=Path, required=True, help="The original seg-model.pt.")
    parser.add_argument("--data", type=Path, default=default_emps_dir())
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed before the first image (the dropout masks).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="Per-image CSV.")
    parser.add_argument("--same-masks", action="store_true", help="Compare with this package image by image under the same dropout masks.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples = load_split(args.data, args.split)[: args.limit]
    with tempfile.TemporaryDirectory() as workdir:
        segmenter = load_original(args.wheel, args.checkpoint, Path(workdir))(bayesian=True, n_samples=30, tu=0.0125, device="cpu")
        if args.same_masks:
            imported = import_ide2_checkpoint(args.checkpoint, Path(workdir) / "imported").path
            table = compare_same_masks(segmenter, str(imported), samples, args.seed)
        else:
            table = run_original(segmenter, samples, args.seed)
    if args.out is not None:
        table.to_csv(args.out, index=False)
    means = table.drop(columns="image").mean() if args.same_masks else table[SUMMARY].mean()
    print(f"{'same masks, original vs ours' if args.same_masks else 'IDE 2.0.4 ParticleSegmenter'}, {len(table)} images, "
          f"seed {args.seed}: " + ", ".join(f"{k} {means[k]:.4g}" for k in means.index))


def run_original(segmenter, samples: list, seed: int) -> pd.DataFrame:
    """The original's labels scored per image; one global seed before the first image, as its users run it."""
    torch.manual_seed(seed)
    rows = []
    for sample in tqdm(samples, desc="IDE 2.0.4"):
        image, truth = sample.load()
        with torch.no_grad():
            labels = segmenter.segment(image)[0].astype(np.uint16)
        rows.append({"image": sample.name, **evaluate_pair(truth, labels), "n_pred": len(np.unique(labels)) - 1})
    return pd.DataFrame(rows)


def compare_same_masks(segmenter, imported: str, samples: list, seed: int) -> pd.DataFrame:
    """Per image: the fraction of pixels whose instance label differs between the original and this
    package (labels matched by overlap, so only the segmentation counts, not the numbering), the
    instance counts and the paper AP of each, both drawing the dropout masks from ``seed``."""
    model = get_bpartis(imported)
    config = BPartISConfig(model=imported, seed=seed, batch_size=1, flips=False, keep_border=True)
    rows = []
    for sample in tqdm(samples, desc="same masks"):
        image, truth = sample.load()
        torch.manual_seed(seed)
        with torch.no_grad():
            original = segmenter.segment(image)[0].astype(np.uint16)
        ours = model.segment(image, config).labels
        rows.append({"image": sample.name, "pixels_differing": differing_fraction(original, ours),
                     "n_original": len(np.unique(original)) - 1, "n_ours": len(np.unique(ours)) - 1,
                     "AP_original": paper_metrics(truth, original).ap, "AP_ours": paper_metrics(truth, ours).ap})
    return pd.DataFrame(rows)


def differing_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of the pixels of two instance maps (same shape) that a relabelling does not explain:
    each label mapped to the label of the other map it overlaps most, in both directions (so a
    merge or a split counts), the worse direction reported."""
    pairs = pd.DataFrame({"a": a.ravel(), "b": b.ravel()}).value_counts().reset_index(name="pixels")
    agreeing = min(pairs.groupby(side)["pixels"].max().sum() for side in ("a", "b"))
    return 1.0 - agreeing / a.size


if __name__ == "__main__":
    main()
