"""Tables of evaluation results, as aligned text (the CLI) or Markdown (BENCHMARKS.md)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from .analysis import ANALYSIS_KEYS, PAPER_ANALYSIS
from .metrics import METRIC_KEYS
from .runner import PAPER_TABLE, Evaluation
from .sweep import TuSweep

Style = Literal["text", "markdown"]

_METRIC_HEADERS = {"AP": "AP", "AP50": "AP50", "AP75": "AP75", "mIoU": "mIoU", "mAP_coco": "mAP", "F1_50": "F1@.5"}
# Failure notes quote the first error up to this many characters.
_NOTE_CHARS = 200
_ANALYSIS_HEADERS = {"size_hist_cosine": "size cos", "aspect_hist_cosine": "AR cos", "rdf_rmse": "RDF rmse"}


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def render(header: Sequence[str], rows: Iterable[Sequence[str]], *, style: Style = "text") -> str:
    """A table: Markdown pipes, or text with the first column left-aligned and the others right."""
    rows = [list(row) for row in rows]
    if style == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  ".join([first.ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(rest, widths[1:]))])

    return "\n".join(line(cells) for cells in [list(header), *rows])


#: What a method's row leaves out of its published system, printed below the table.
METHOD_NOTES = {
    "dilated-unet-crf": "dilated-unet-crf: segmentation stages only; the paper's VGG16 object classifier is not implemented (EMPS has no object classes to train it on)",
}


def comparison_table(evaluations: Sequence[Evaluation | Mapping[str, Any]], *, style: Style = "text") -> str:
    """One row per method: images scored, metrics, median seconds per image, the particle-analysis
    distances (means over images with >= 30 true particles, and how many), the paper's AP / AP50 /
    AP75 / mIoU and its analysis distances ('-' where the paper has none). Below the table, a line
    for each method that failed on some images and each :data:`METHOD_NOTES` entry of a method shown.

    Each entry is an :class:`Evaluation` or its :meth:`Evaluation.to_json` record (e.g. a row
    stored by an earlier run of ``benchmarks/methods_comparison.py``)."""
    header = ["method", "images", *(_METRIC_HEADERS[k] for k in METRIC_KEYS), "s/img",
              *(_ANALYSIS_HEADERS[k] for k in ANALYSIS_KEYS), "n>=30", "paper AP/AP50/AP75/mIoU", "paper size/AR/RDF"]
    rows = []
    notes = []
    for evaluation in evaluations:
        record = evaluation if isinstance(evaluation, Mapping) else evaluation.to_json()
        method, n_images, n_failed = record["method"], int(record["n_images"]), int(record.get("n_failed") or 0)
        paper = PAPER_TABLE.get(method)
        paper_analysis = PAPER_ANALYSIS.get(method)
        rows.append([
            method,
            str(n_images - n_failed),
            *(_cell(record.get(k)) for k in METRIC_KEYS),
            _cell(record.get("seconds_per_image"), 2),
            *(_cell(record.get(k), 4) for k in ANALYSIS_KEYS),
            str(int(record.get("n_analysis_images") or 0)),
            "/".join(f"{v:.3f}" for v in paper) if paper else "-",
            "/".join(f"{v:.4f}" for v in paper_analysis) if paper_analysis else "-",
        ])
        if n_failed:
            first = str(record["error"])
            first = first if len(first) <= _NOTE_CHARS else first[: _NOTE_CHARS - 3] + "..."
            notes.append(f"{method}: failed on {n_failed} of {n_images} images ({first})")
        if method in METHOD_NOTES:
            notes.append(METHOD_NOTES[method])
    table = render(header, rows, style=style)
    if not notes:
        return table
    bullet = "- " if style == "markdown" else ""
    return table + "\n\n" + "\n".join(bullet + note for note in notes)


def sweep_table(sweep: TuSweep, *, style: Style = "text") -> str:
    """One row per threshold: tu ('none' = no filter), mean metrics, instances kept; the model's
    default threshold is marked with '*'."""
    header = ["tu", *(_METRIC_HEADERS[k] for k in METRIC_KEYS), "kept"]
    rows = []
    for row in sweep.summary.to_dict("records"):
        tu = row["tu"]
        label = "none" if math.isinf(tu) else f"{tu:g}" + ("*" if math.isclose(tu, sweep.model_tu) else "")
        rows.append([label, *(_cell(row[k]) for k in METRIC_KEYS), str(int(row["n_pred"]))])
    return render(header, rows, style=style)
