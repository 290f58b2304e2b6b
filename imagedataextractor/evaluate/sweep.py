"""The uncertainty-threshold sweep (Yildirim & Cole 2021, Fig. 6): segmentation metrics as a
function of BPartIS's per-instance uncertainty threshold tu.

The network runs once per image: the Monte Carlo outputs are averaged and clustered once, and only
the filter (drop instances whose mean mutual information is not below tu) is repeated per tu, so a
sweep over k thresholds costs one Bayesian inference per image, not k.
"""

from __future__ import annotations

from typing import Any

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ..datasets import load_split
from ..imageio import as_rgb
from ..segment.cluster import cluster_outputs
from ..segment.predict import BPartISConfig, get_bpartis, to_image_size, to_input
from ..segment.uncertainty import filter_uncertain
from .metrics import METRIC_KEYS, EvaluationError, evaluate_pair, summarise

#: Default thresholds (nats), around the paper's 0.0125; ``inf`` is "no filter" (Bayesian mode).
DEFAULT_TU_VALUES = (0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.04, 0.05, math.inf)


@dataclass(frozen=True, eq=False)
class MCPrediction:
    """One image's Bayesian BPartIS prediction before the uncertainty filter.

    labels: (S, S) int64 instances of the mean MC output at the network's input size S, ids 1..n.
    scores: (n,) seed scores. information: (S, S) mutual information of the seed map, nats.
    image_shape: (H, W) of the image, the size :meth:`at_tu` returns.
    """

    labels: torch.Tensor
    scores: torch.Tensor
    information: torch.Tensor
    image_shape: tuple[int, int]

    def at_tu(self, tu: float) -> tuple[np.ndarray, np.ndarray]:
        """Labels (H, W) uint16 and scores (float32, by id - 1) keeping the instances whose mean
        information is below ``tu`` (``inf``: all of them); border particles are kept."""
        labels, scores = self.labels, self.scores
        if not math.isinf(tu):
            labels, kept = filter_uncertain(labels, self.information, tu)
            scores = scores[kept]
        return to_image_size(labels, scores, self.image_shape)


def mc_prediction(image: np.ndarray, config: BPartISConfig = BPartISConfig()) -> MCPrediction:
    """Run Bayesian BPartIS on an (H, W, 3) uint8 image up to, not including, the uncertainty filter.

    ``config`` as for :func:`~imagedataextractor.segment.segment_bpartis` (model, n_samples, flips,
    seed, batch_size, precision); its mode, tu and filter settings are not used. ``at_tu(t)`` then equals
    ``segment_bpartis(image, config=BPartISConfig(..., tu=t, keep_border=True))``.
    """
    image = as_rgb(image)
    model = get_bpartis(config.model, config.device)
    defaults = model.bundle.config
    x = to_input(image, int(defaults.get("input_size", 512))).to(model.device).contiguous(memory_format=torch.channels_last)
    raw, information, _foreground = model.sample(x, config)
    assert information is not None  # MC sampling always gives it
    clusters = cluster_outputs(raw, seed_threshold=float(defaults.get("seed_threshold", 0.5)), min_size=int(defaults.get("min_size", 128)))
    return MCPrediction(clusters.labels, clusters.scores, information, (int(image.shape[0]), int(image.shape[1])))


def sweep_prediction(truth: np.ndarray, prediction: MCPrediction, tu_values: Sequence[float]) -> list[dict]:
    """Metrics of one image at each threshold: a dict per tu with ``tu``, :data:`METRIC_KEYS` and
    ``n_pred`` (instances kept)."""
    rows = []
    for tu in tu_values:
        labels, scores = prediction.at_tu(tu)
        rows.append({"tu": float(tu), **evaluate_pair(truth, labels, scores=scores), "n_pred": int(labels.max()) if labels.size else 0})
    return rows


@dataclass(frozen=True, eq=False)
class TuSweep:
    """Result of :func:`sweep_tu`.

    per_image: one row per (image, tu): ``image``, ``tu``, metrics, ``n_pred``.
    summary: one row per tu, in the order given: ``tu``, mean of each metric over images (NaN
        skipped), ``n_pred`` (instances kept, summed over images).
    model_tu: the model's default threshold; n_samples: T used; n_images: images swept.
    """

    per_image: pd.DataFrame
    summary: pd.DataFrame
    model_tu: float
    n_samples: int
    n_images: int

    def best(self, metric: str = "AP") -> float:
        """The finite tu of highest mean ``metric`` (first on ties), NaN when none is finite."""
        finite = self.summary[np.isfinite(self.summary["tu"]) & np.isfinite(self.summary[metric])]
        return float(finite.loc[finite[metric].idxmax(), "tu"]) if len(finite) else math.nan

    @classmethod
    def from_json(cls, record: dict) -> "TuSweep":
        """The sweep of a :meth:`to_json` record (e.g. stored by ``benchmarks/methods_comparison.py``):
        its summary and settings; ``per_image`` is empty, as the record does not keep those rows."""
        rows = [{key: (math.inf if key == "tu" else math.nan) if value is None else value for key, value in row.items()}
                for row in record["rows"]]
        return cls(pd.DataFrame(columns=["image", "tu", *METRIC_KEYS, "n_pred"]), pd.DataFrame(rows),
                   float(record["model_tu"]), int(record["n_samples"]), int(record["n_images"]))

    def to_json(self) -> dict:
        """Plain values: the summary rows (tu ``None`` for no filter, NaN as None) and settings."""
        def plain(value):
            value = float(value)
            return None if not math.isfinite(value) else round(value, 5)

        rows = [{key: plain(value) for key, value in row.items()} for row in self.summary.to_dict("records")]
        for row in rows:
            row["n_pred"] = int(row["n_pred"]) if row["n_pred"] is not None else 0
        return {"model_tu": self.model_tu, "n_samples": self.n_samples, "n_images": self.n_images,
                "best_tu_AP": plain(self.best("AP")), "rows": rows}


def check_tu_values(tu_values: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(tu) for tu in tu_values)
    if not values:
        raise EvaluationError("tu_values: give at least one threshold")
    if any(math.isnan(tu) or tu < 0 for tu in values):
        raise EvaluationError(f"tu_values: thresholds must be >= 0 (inf = no filter), got {values}")
    return values


def summarise_sweep(rows: list[dict], tu_values: Sequence[float]) -> pd.DataFrame:
    """Per-tu means of per-image sweep rows (as :func:`sweep_prediction` gives), tu in given order."""
    summary = []
    for tu in tu_values:
        at_tu = [row for row in rows if row["tu"] == float(tu)]
        means = summarise([{key: row[key] for key in METRIC_KEYS} for row in at_tu]) if at_tu else dict.fromkeys(METRIC_KEYS, math.nan)
        summary.append({"tu": float(tu), **means, "n_pred": sum(row["n_pred"] for row in at_tu)})
    return pd.DataFrame(summary, columns=["tu", *METRIC_KEYS, "n_pred"])


def sweep_tu(
    data: str | Path,
    *,
    split: str = "test",
    bpartis: BPartISConfig = BPartISConfig(),
    tu_values: Sequence[float] = DEFAULT_TU_VALUES,
    limit: int | None = None,
    progress: bool = True,
) -> TuSweep:
    """Score Bayesian BPartIS on every image of ``split`` at each threshold of ``tu_values``.

    One MC inference per image (T = ``bpartis.n_samples`` or the model's); predictions at native
    resolution with border particles kept, as in :func:`~imagedataextractor.evaluate.evaluate_method`.
    """
    values = check_tu_values(tu_values)
    samples = load_split(data, split)[:limit]
    rows: list[dict[str, Any]] = []
    for sample in tqdm(samples, desc="tu sweep", disable=not progress, leave=False):
        image, truth = sample.load()
        rows.extend({"image": sample.name, **row} for row in sweep_prediction(truth, mc_prediction(image, bpartis), values))
    defaults = get_bpartis(bpartis.model, bpartis.device).bundle.config
    per_image = pd.DataFrame(rows, columns=["image", "tu", *METRIC_KEYS, "n_pred"])
    return TuSweep(per_image, summarise_sweep(rows, values), float(defaults.get("tu", 0.0125)),
                   bpartis.n_samples or int(defaults.get("n_samples", 30)), len(samples))
