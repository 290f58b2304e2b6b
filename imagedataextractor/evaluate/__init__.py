"""Evaluation: the BPartIS paper's metrics, COCO mAP and F1, its particle-analysis check and
uncertainty-threshold sweep, and the comparison of every segmentation method, over EMPS-layout splits.

Figures (:mod:`.figures`) and tables (:mod:`.report`) are imported from their modules."""

from .analysis import ANALYSIS_KEYS, MIN_GT_PARTICLES, PAPER_ANALYSIS, ParticleAnalysis, particle_analysis
from .metrics import METRIC_KEYS, coco_map, evaluate_pair, f1_at, iou_matrix, paper_metrics, summarise
from .runner import PAPER_TABLE, Comparison, Evaluation, Example, compare_methods, evaluate_method, resolve_methods
from .sweep import DEFAULT_TU_VALUES, MCPrediction, TuSweep, mc_prediction, sweep_tu

__all__ = ["ANALYSIS_KEYS", "DEFAULT_TU_VALUES", "METRIC_KEYS", "MIN_GT_PARTICLES", "PAPER_ANALYSIS", "PAPER_TABLE",
           "Comparison", "Evaluation", "Example", "MCPrediction", "ParticleAnalysis", "TuSweep", "coco_map",
           "compare_methods", "evaluate_method", "evaluate_pair", "f1_at", "iou_matrix", "mc_prediction",
           "paper_metrics", "particle_analysis", "resolve_methods", "summarise", "sweep_tu"]
