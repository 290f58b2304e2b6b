"""The original ImageDataExtractor 2.0.4 segmenter (its own ``ParticleSegmenter``: Bayesian, T=30,
tu 0.0125, fp32) on the EMPS test split, scored with this package's metrics; per-image rows to a CSV
and means printed, for comparison with ``ide evaluate`` on the imported checkpoint.

    pip download imagedataextractor==2.0.4 --no-deps -d /tmp/ide204 && unzip -q /tmp/ide204/*.whl -d /tmp/ide204/wheel
    python benchmarks/ide2_original.py --wheel /tmp/ide204/wheel --checkpoint ../shared/reference/bpartis-ide2.0.4-seg-model.pt

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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as workdir:
        segmenter = load_original(args.wheel, args.checkpoint, Path(workdir))(bayesian=True, n_samples=30, tu=0.0125, device="cpu")
        torch.manual_seed(args.seed)
        rows = []
        for sample in tqdm(load_split(args.data, args.split)[: args.limit], desc="IDE 2.0.4"):
            image, truth = sample.load()
            with torch.no_grad():
                labels = segmenter.segment(image)[0].astype(np.uint16)
            rows.append({"image": sample.name, **evaluate_pair(truth, labels), "n_pred": len(np.unique(labels)) - 1})
    table = pd.DataFrame(rows)
    if args.out is not None:
        table.to_csv(args.out, index=False)
    means = table[SUMMARY].mean()
    print(f"IDE 2.0.4 ParticleSegmenter, {len(table)} images, seed {args.seed}: " + ", ".join(f"{k} {means[k]:.3f}" for k in SUMMARY))


if __name__ == "__main__":
    main()
