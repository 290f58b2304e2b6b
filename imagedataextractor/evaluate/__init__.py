"""Evaluation: the BPartIS paper's metrics, COCO mAP and F1, over EMPS-layout splits."""

from .metrics import METRIC_KEYS, coco_map, evaluate_pair, f1_at, iou_matrix, paper_metrics, summarise
from .runner import PAPER_TABLE, Evaluation, evaluate_method

__all__ = ["METRIC_KEYS", "PAPER_TABLE", "Evaluation", "coco_map", "evaluate_method", "evaluate_pair",
           "f1_at", "iou_matrix", "paper_metrics", "summarise"]
