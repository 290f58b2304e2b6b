"""Scoring segmentation methods on an EMPS-layout split, at each image's native resolution."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..datasets import load_split
from ..segment.methods import segment
from ..segment.predict import BPartISConfig
from .metrics import METRIC_KEYS, evaluate_pair, summarise

#: Published EMPS test-split figures (Yildirim & Cole 2021, Table 1): AP, AP50, AP75, mean IoU.
PAPER_TABLE = {
    "ide1": (0.327, 0.320, 0.189, 0.249),
    "gmm": (0.411, 0.289, 0.215, 0.236),
    "maskrcnn": (0.506, 0.668, 0.638, 0.621),
    "bpartis-discriminative": (0.560, 0.786, 0.738, 0.712),
    "bpartis-bayesian": (0.590, 0.823, 0.771, 0.745),
    "bpartis": (0.632, 0.928, 0.874, 0.844),
}


@dataclass(frozen=True)
class Evaluation:
    """Per-image metrics (one row per image) and their means over images."""

    method: str
    per_image: pd.DataFrame
    summary: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The issue's JSON object: method, mode, n_images, metrics and seconds per image."""
        mode = {"bpartis": "bayesian+filter", "bpartis-bayesian": "bayesian", "bpartis-discriminative": "discriminative"}
        out = {"method": self.method, "mode": mode.get(self.method), "n_images": len(self.per_image)}
        out.update({k: _finite(self.summary.get(k)) for k in (*METRIC_KEYS, "seconds_per_image")})
        return out


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else round(float(value), 4)


def evaluate_method(
    data: str | Path,
    *,
    split: str = "test",
    method: str = "bpartis",
    bpartis: BPartISConfig = BPartISConfig(),
    limit: int | None = None,
    progress: bool = True,
) -> Evaluation:
    """Segment every image of ``split`` with ``method`` and score it against the ground truth.

    Border particles are kept (the ground truth includes them), and predictions are compared at
    the image's native resolution.
    """
    samples = load_split(data, split)[:limit]
    rows = []
    for sample in tqdm(samples, desc=method, disable=not progress, leave=False):
        image, truth = sample.load()
        started = time.perf_counter()
        result = segment(image, method=method, keep_border=True, bpartis=bpartis)
        seconds = time.perf_counter() - started
        metrics = evaluate_pair(truth, result.labels, scores=result.scores)
        rows.append({"image": sample.name, **metrics, "seconds": seconds, "n_true": int(truth.max()), "n_pred": result.n_instances})
    frame = pd.DataFrame(rows)
    summary = summarise([{k: row[k] for k in METRIC_KEYS} for row in rows]) if rows else {}
    summary["seconds_per_image"] = float(frame["seconds"].median()) if rows else float("nan")
    return Evaluation(method, frame, summary)
