"""``ide report``: the static review site over a results database."""

from __future__ import annotations

import click

from .db import db_option


@click.command("report")
@db_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="ide-report", show_default=True,
              help="Folder for the site; open OUT/index.html in a browser.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Processes drawing the plots (default: the CPU count).")
@click.option("--progress/--no-progress", default=None, help="A progress bar on stderr (default: when stderr is a terminal).")
def report_command(db: str, out_dir: str, workers: int | None, progress: bool | None) -> None:
    """Write a static site (no server needed) over every result in the database: an index of
    articles and figures with filters by material, microscopy type and status (failed and skipped
    items with their reasons), and per article its figures and, per panel, the overlay, size and
    aspect-ratio histograms, g(r), particle table and provenance.

    \b
    Example:
      ide report --db demo-out/ide.sqlite --out site
    """
    from ..report import write_report

    summary = write_report(db, out_dir, workers=workers, progress=progress)
    click.echo(f"{summary.n_groups} articles/figures, {summary.n_panels} panels, {summary.n_pages} pages in {summary.elapsed_s:.1f} s -> {summary.index}")


def register(group: click.Group) -> None:
    group.add_command(report_command)
