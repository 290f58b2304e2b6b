"""``ide extract``: the whole pipeline on figures or directories of figures, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .db import DB_ENV


@click.command("extract")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default="ide-out", show_default=True,
              help="Folder for one sub-folder of results per panel.")
@click.option("--db", "db", envvar=DB_ENV, default=None,
              help=f"Also save results in this database (SQLite path or SQLAlchemy URL). Default: none. Env: {DB_ENV}.")
@click.option("--method", default="bpartis", show_default=True, help="Segmentation method (see `ide segment --help`).")
@click.option("--keep-border", is_flag=True, help="Keep particles touching the panel border.")
@click.option("--no-split", is_flag=True, help="Treat each image as one micrograph instead of splitting it into panels.")
@click.option("--samples", "-T", type=click.IntRange(min=1), default=None, help="BPartIS MC-dropout samples (default: the model's, 30).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True, help="BPartIS arithmetic.")
@click.option("--model", default=None, help="BPartIS model bundle name or directory (default: the shipped bpartis-emps).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {results: [...], n_done, n_skipped, n_failed}.")
def extract_command(sources, out_dir, db, method, keep_border, no_split, samples, precision, model, as_json):
    """Extract particle statistics from FIGURE_OR_DIR... (image files, or folders of them).

    Writes OUT/<figure-stem>[_<panel label or index>]/ with summary.json, particles.csv,
    overlay.png, size_histogram.png and rdf.png for every measured panel (summary.json only for
    skipped and failed ones), and prints one line per panel. Exits non-zero only when every
    input failed.
    """
    from ..errors import IDEError
    from ..pipeline import extract
    from ..segment import METHODS
    from ..segment.predict import BPartISConfig

    if method not in METHODS:
        raise click.BadParameter(f"choose from {', '.join(METHODS)}", param_hint="--method")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".ide-write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise click.ClickException(f"{out_dir}: output folder is not writable ({exc.strerror or exc})") from None
    config = BPartISConfig(model=model, n_samples=samples, precision=precision)
    results = []
    for source in sources:
        results.extend(extract(source, method=method, split=not no_split, db=db, keep_border=keep_border, bpartis=config))
    for result in results:
        try:
            result.save(out_dir)
        except IDEError as exc:
            raise click.ClickException(str(exc)) from None
    counts = {status: sum(r.status == status for r in results) for status in ("done", "skipped", "failed")}
    if as_json:
        click.echo(json.dumps({"out": str(out_dir), "db": db, "results": [_row(r) for r in results], **{f"n_{k}": v for k, v in counts.items()}}))
    else:
        click.echo(f"{'name':<28}{'status':<9}{'particles':>10}{'nm/px':>9}{'mean d':>12}  note")
        for result in results:
            row = _row(result)
            scale = "-" if row["nm_per_px"] is None else f"{row['nm_per_px']:.3g}"
            mean = "-" if row["diameter_mean"] is None else f"{row['diameter_mean']:.1f} {row['units']}"
            particles = "-" if row["n_particles"] is None else row["n_particles"]
            note = row["reason"] or ("no scalebar: sizes in px" if row["units"] == "px" else "")
            click.echo(f"{row['name']:<28}{row['status']:<9}{particles:>10}{scale:>9}{mean:>12}  {note}")
        click.echo(f"{counts['done']} measured, {counts['skipped']} skipped, {counts['failed']} failed -> {out_dir}")
    if results and counts["failed"] == len(results):
        click.get_current_context().exit(1)


def _row(result) -> dict:
    summary = result.measurements.summary if result.measurements is not None else None
    units = None if summary is None else ("nm" if result.nm_per_px is not None else "px")
    return {
        "name": result.name,
        "source": result.source,
        "status": result.status,
        "reason": result.reason,
        "label": None if result.panel is None else result.panel.label,
        "bbox": None if result.panel is None else list(result.panel.bbox),
        "nm_per_px": result.nm_per_px,
        "units": units,
        "n_particles": None if summary is None else summary["n_particles"],
        "diameter_mean": None if summary is None else summary[f"diameter_mean_{units}"],
    }


def register(group: click.Group) -> None:
    group.add_command(extract_command)
