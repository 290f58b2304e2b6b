"""Scoring segmentation methods on an EMPS-layout split, at each image's native resolution.

:func:`compare_methods` runs every method on the same images (each image is read once and given to
each method in turn) and scores each prediction with the paper's metrics, COCO mAP and F1, and on
images with at least 30 ground-truth particles with the paper's particle-analysis check
(:mod:`.analysis`). A method that fails on an image is recorded and the run goes on.
"""

from __future__ import annotations

from typing import Any

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..datasets import load_split
from ..segment import methods as segment_methods
from ..segment.predict import BPartISConfig, get_bpartis
from .analysis import ANALYSIS_KEYS, MIN_GT_PARTICLES, PAPER_ANALYSIS, compare_stats, particle_stats
from .metrics import METRIC_KEYS, EvaluationError, evaluate_pair, summarise
from .sweep import MCPrediction, TuSweep, check_tu_values, mc_prediction, summarise_sweep, sweep_prediction

log = logging.getLogger(__name__)

#: Published EMPS test-split figures (Yildirim & Cole 2021, Table 1): AP, AP50, AP75, mean IoU.
PAPER_TABLE = {
    "ide1": (0.327, 0.320, 0.189, 0.249),
    "gmm": (0.411, 0.289, 0.215, 0.236),
    "maskrcnn": (0.506, 0.668, 0.638, 0.621),
    "bpartis-discriminative": (0.560, 0.786, 0.738, 0.712),
    "bpartis-bayesian": (0.590, 0.823, 0.771, 0.745),
    "bpartis": (0.632, 0.928, 0.874, 0.844),
}
#: Keys of PAPER_TABLE's tuples.
PAPER_KEYS = ("AP", "AP50", "AP75", "mIoU")
_MODES = {"bpartis": "bayesian+filter", "bpartis-bayesian": "bayesian", "bpartis-discriminative": "discriminative"}


@dataclass(frozen=True)
class Evaluation:
    """One method's scores on a split.

    per_image: one row per image: ``image``, :data:`METRIC_KEYS`, ``seconds``, ``n_true``,
        ``n_pred``, :data:`~.analysis.ANALYSIS_KEYS` (NaN where the image has fewer than
        ``min_gt_particles`` ground-truth particles) and ``error`` (None, or why the method failed
        on this image; then the metrics are NaN).
    summary: means over images of the metrics and of the analysis distances (NaN skipped),
        ``seconds_per_image`` (median over the images it segmented), ``n_analysis_images`` (images
        scored by the particle-analysis check) and ``n_failed``.
    """

    method: str
    per_image: pd.DataFrame
    summary: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        """"image: message" for each image the method failed on."""
        if "error" not in self.per_image:
            return []
        failed = self.per_image[self.per_image["error"].notna()]
        return [f"{row.image}: {row.error}" for row in failed.itertuples()]

    def to_json(self) -> dict:
        """Plain values: method, mode, n_images, metrics, seconds per image, the analysis distances
        and the image counts behind them, the paper's figures (None where it has none) and the
        first error (None if the method never failed)."""
        out: dict[str, Any] = {"method": self.method, "mode": _MODES.get(self.method), "n_images": len(self.per_image)}
        out.update({k: _finite(self.summary.get(k)) for k in (*METRIC_KEYS, "seconds_per_image", *ANALYSIS_KEYS)})
        out["n_analysis_images"] = int(self.summary.get("n_analysis_images", 0))
        out["n_failed"] = int(self.summary.get("n_failed", 0))
        paper = PAPER_TABLE.get(self.method)
        out["paper"] = dict(zip(PAPER_KEYS, paper)) if paper else None
        paper_analysis = PAPER_ANALYSIS.get(self.method)
        out["paper_analysis"] = dict(zip(ANALYSIS_KEYS, paper_analysis)) if paper_analysis else None
        errors = self.errors
        out["error"] = errors[0] if errors else None
        return out


@dataclass(frozen=True, eq=False)
class Example:
    """An image kept for pictures: its name, pixels (H, W, 3) uint8, ground truth (H, W) and each
    method's predicted labels (H, W) (a method that failed on it is absent)."""

    name: str
    image: np.ndarray
    truth: np.ndarray
    predictions: dict[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Result of :func:`compare_methods`: one :class:`Evaluation` per method, in the order asked,
    the first ``keep_examples`` images with every method's prediction, and the uncertainty-threshold
    sweep when ``tu_values`` were given."""

    evaluations: list[Evaluation]
    examples: list[Example]
    sweep: TuSweep | None = None


#: The Bayesian BPartIS methods and the threshold each applies (None: the config's or the model's tu).
_BAYESIAN_TU = {"bpartis": None, "bpartis-bayesian": math.inf}


class _SharedInference:
    """Bayesian BPartIS run once per image and model: its two methods and the tu sweep are filters
    of the same Monte Carlo outputs (``MCPrediction.at_tu`` equals ``segment`` with that tu), so a
    comparison pays for one MC inference per image, not three. Each use reports the MC seconds."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self._runs: dict[BPartISConfig, tuple[MCPrediction | Exception, float]] = {}

    def prediction(self, config: BPartISConfig) -> tuple[MCPrediction, float]:
        key = replace(config, tu=None, mode="bayesian", filter_uncertain=True, keep_border=True)
        if key not in self._runs:
            started = time.perf_counter()
            try:
                self._runs[key] = (mc_prediction(self.image, key), time.perf_counter() - started)
            except Exception as exc:  # raised again at each use, so every method using it records it
                self._runs[key] = (exc, math.nan)
        outcome, seconds = self._runs[key]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome, seconds

    def segment(self, name: str, config: BPartISConfig) -> tuple[np.ndarray, np.ndarray, float]:
        """Labels (H, W), scores and MC seconds of Bayesian method ``name``."""
        prediction, seconds = self.prediction(config)
        tu = _BAYESIAN_TU[name]
        if tu is None:
            tu = config.tu if config.tu is not None else _model_tu(config)
        labels, scores = prediction.at_tu(tu)
        return labels, scores, seconds


def _model_tu(config: BPartISConfig) -> float:
    return float(get_bpartis(config.model, config.device).bundle.config.get("tu", 0.0125))


def _model_samples(config: BPartISConfig) -> int:
    return int(get_bpartis(config.model, config.device).bundle.config.get("n_samples", 30))


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else round(float(value), 5)


def resolve_methods(method: str | Sequence[str]) -> list[str]:
    """Method names from ``"all"`` (every name of the segmentation registry at call time, so
    methods added later are included), one name, or a list of names; unknown names are refused."""
    known = list(segment_methods.METHODS)
    names = known if method == "all" else [method] if isinstance(method, str) else list(method)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise EvaluationError(f"unknown method {', '.join(map(repr, unknown))}; choose from {', '.join(known)} or 'all'")
    return names


def _n_instances(labels: np.ndarray) -> int:
    ids = np.unique(labels)
    return int(np.count_nonzero(ids))


def compare_methods(
    data: str | Path,
    *,
    methods: str | Sequence[str] = "all",
    split: str = "test",
    bpartis: BPartISConfig = BPartISConfig(),
    models: Mapping[str, str] | None = None,
    limit: int | None = None,
    keep_examples: int = 0,
    min_gt_particles: int = MIN_GT_PARTICLES,
    tu_values: Sequence[float] | None = None,
    progress: bool = True,
) -> Comparison:
    """Segment the images of ``split`` with each method and score every prediction.

    Parameters
    ----------
    data : dataset directory in the EMPS layout.
    methods : "all" (every registered method), a name, or names (see ``segment.METHODS``).
    bpartis : BPartIS settings (model, samples, tu, seed, precision); the mode comes from the name.
        As in ``segment``, its ``model`` (and ``device``) also go to the learned baselines.
    models : model bundle (name or directory) per method name, overriding ``bpartis.model`` for
        that method: how to compare BPartIS and other learned methods with models of one's own.
    limit : only the first ``limit`` images of the split.
    keep_examples : keep the first this many images and every prediction on them (for a grid).
    min_gt_particles : images with at least this many ground-truth particles get the particle-
        analysis check (the paper's 30).
    tu_values : also sweep BPartIS's uncertainty threshold over these (see :func:`.sweep.sweep_tu`),
        with method "bpartis"'s model, into ``Comparison.sweep``.

    The Bayesian BPartIS methods and the sweep share one MC inference per image and model (each
    reports its seconds).

    Border particles are kept (the ground truth includes them) and predictions are compared at the
    image's native resolution. Exceptions raised by a method on an image are recorded in its row
    and logged; the other images and methods go on.
    """
    names = resolve_methods(methods)
    unknown = sorted(set(models or {}) - set(names))
    if unknown:
        raise EvaluationError(f"models: {', '.join(unknown)} not among the methods evaluated ({', '.join(names)})")
    configs = {name: replace(bpartis, model=(models or {}).get(name, bpartis.model)) for name in names}
    sweep_values = None if tu_values is None else check_tu_values(tu_values)
    sweep_config = configs.get("bpartis", replace(bpartis, model=(models or {}).get("bpartis", bpartis.model)))
    samples = load_split(data, split)[:limit]
    rows: dict[str, list[dict]] = {name: [] for name in names}
    sweep_rows: list[dict] = []
    examples = []
    for index, sample in enumerate(tqdm(samples, desc="evaluate", disable=not progress, leave=False)):
        image, truth = sample.load()
        n_true = _n_instances(truth)
        truth_stats = particle_stats(truth) if n_true >= min_gt_particles else None
        kept: dict[str, np.ndarray] = {}
        shared = _SharedInference(image)
        for name in names:
            row = {"image": sample.name, **dict.fromkeys(METRIC_KEYS, math.nan), "seconds": math.nan, "n_true": n_true,
                   "n_pred": 0, **dict.fromkeys(ANALYSIS_KEYS, math.nan), "error": None}
            started = time.perf_counter()
            scores: np.ndarray | None  # the baselines give none
            try:
                if name in _BAYESIAN_TU:
                    labels, scores, seconds = shared.segment(name, configs[name])
                else:
                    result = segment_methods.segment(image, method=name, keep_border=True, bpartis=configs[name])
                    labels, scores, seconds = result.labels, result.scores, time.perf_counter() - started
            except Exception as exc:  # a method's failure is a result of the comparison, not its end
                # Warn once per method (a missing model fails on every image); the rest at debug level.
                level = logging.DEBUG if any(r["error"] for r in rows[name]) else logging.WARNING
                log.log(level, "%s on %s failed: %s", name, sample.name, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                row["error"] = f"{type(exc).__name__}: {exc}"
                rows[name].append(row)
                continue
            row["seconds"] = seconds
            row.update(evaluate_pair(truth, labels, scores=scores))
            row["n_pred"] = _n_instances(labels)
            if truth_stats is not None:
                row.update(compare_stats(truth_stats, particle_stats(labels)).distances())
            rows[name].append(row)
            if index < keep_examples:
                kept[name] = labels
        if index < keep_examples:
            examples.append(Example(sample.name, image, truth, kept))
        if sweep_values is not None:
            try:
                prediction, _ = shared.prediction(sweep_config)
            except Exception as exc:  # already recorded as the Bayesian methods' error on this image
                log.warning("tu sweep: %s left out: %s", sample.name, exc)
            else:
                sweep_rows.extend({"image": sample.name, **row} for row in sweep_prediction(truth, prediction, sweep_values))
    sweep = None
    if sweep_values is not None:
        sweep = TuSweep(pd.DataFrame(sweep_rows, columns=["image", "tu", *METRIC_KEYS, "n_pred"]), summarise_sweep(sweep_rows, sweep_values),
                        _model_tu(sweep_config), sweep_config.n_samples or _model_samples(sweep_config), len(samples))
    return Comparison([_evaluation(name, rows[name]) for name in names], examples, sweep)


def _evaluation(method: str, rows: list[dict]) -> Evaluation:
    columns = ["image", *METRIC_KEYS, "seconds", "n_true", "n_pred", *ANALYSIS_KEYS, "error"]
    frame = pd.DataFrame(rows, columns=columns)
    ok = frame[frame["error"].isna()]
    summary = summarise(ok[list(METRIC_KEYS) + list(ANALYSIS_KEYS)].to_dict("records")) if len(ok) else {}
    summary["seconds_per_image"] = float(ok["seconds"].median()) if len(ok) else math.nan
    summary["n_analysis_images"] = int(ok[list(ANALYSIS_KEYS)].notna().any(axis=1).sum())
    summary["n_failed"] = int(len(frame) - len(ok))
    return Evaluation(method, frame, summary)


def evaluate_method(
    data: str | Path,
    *,
    split: str = "test",
    method: str = "bpartis",
    bpartis: BPartISConfig = BPartISConfig(),
    limit: int | None = None,
    progress: bool = True,
) -> Evaluation:
    """Segment every image of ``split`` with ``method`` and score it against the ground truth
    (:func:`compare_methods` for one method)."""
    return compare_methods(data, methods=[method], split=split, bpartis=bpartis, limit=limit, progress=progress).evaluations[0]
