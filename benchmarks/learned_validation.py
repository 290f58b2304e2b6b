"""Score learned-baseline bundles on the publications that ``ide train`` holds out from the EMPS
train split for validation (never the test split), paired image by image against the first bundle.

    python benchmarks/learned_validation.py --data ../shared/emps --method unet --model unet-emps --model runs/unet-bundle

Prints, per bundle, the mean AP50 and F1@0.5 over the validation images and the criterion used to
pick a bundle (their mean), with the paired difference from the first bundle and its standard error;
``--json FILE`` also writes the per-image rows. The held-out images are the train split's
publications whose DOI hash is below ``--val-fraction`` (as in training, see
:func:`imagedataextractor.train.loop.split_by_publication`).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import torch

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.evaluate import compare_methods
from imagedataextractor.train.loop import split_by_publication


def validation_view(data: Path, val_fraction: float, directory: Path) -> list[str]:
    """Make ``directory`` an EMPS-layout view of ``data`` (links to its images, segmaps and
    metadata) whose ``val.csv`` lists the held-out validation images; returns their names."""
    _, val = split_by_publication(load_split(data, "train"), val_fraction)
    for entry in ("images", "segmaps", "metadata.csv"):
        if (data / entry).exists():
            (directory / entry).symlink_to((data / entry).resolve())
    (directory / "val.csv").write_text("".join(f"{s.name}\n" for s in val))
    return [s.name for s in val]


def paired(first: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the per-image differences other - first (NaNs dropped)."""
    diff = other - first
    diff = diff[np.isfinite(diff)]
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_emps_dir())
    parser.add_argument("--method", required=True, help="unet, dilated-unet-crf or maskrcnn.")
    parser.add_argument("--model", action="append", required=True, help="Bundle name or directory (repeat; the first is the reference).")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        names = validation_view(args.data, args.val_fraction, Path(tmp))
        for model in args.model:
            evaluation = compare_methods(tmp, methods=[args.method], split="val", models={args.method: model}).evaluations[0]
            frame = evaluation.per_image.set_index("image").loc[names]
            results[model] = frame
    criterion = {model: (frame["AP50"] + frame["F1_50"]).to_numpy() / 2 for model, frame in results.items()}
    print(f"{args.method}: {len(names)} validation images (held-out publications of the train split)")
    print("model | AP50 | F1@0.5 | criterion (mean) | paired diff vs first (SE) | failed")
    for model, frame in results.items():
        diff, se = paired(criterion[args.model[0]], criterion[model])
        print(f"{model} | {frame['AP50'].mean():.3f} | {frame['F1_50'].mean():.3f} | {np.nanmean(criterion[model]):.3f} | "
              f"{diff:+.3f} ({se:.3f}) | {int(frame['error'].notna().sum())}")
    if args.json:
        args.json.write_text(json.dumps({model: frame.reset_index()[["image", "AP50", "F1_50", "n_true", "n_pred"]].to_dict("records")
                                         for model, frame in results.items()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
