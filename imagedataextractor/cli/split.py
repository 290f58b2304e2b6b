"""``ide split``: the panels of a multi-panel figure."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("split")
@click.argument("figure", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Write each panel as PNG into this directory.")
@click.option("--json", "as_json", is_flag=True, help='Print one JSON object: {"panels": [{"bbox", "label", "is_micrograph", "reason", "confidence"}, ...]}.')
@click.option("--no-labels", is_flag=True, help="Skip reading panel labels (faster).")
def split_command(figure: Path, out: Path | None, as_json: bool, no_labels: bool) -> None:
    """Split FIGURE into panels: bbox (x0, y0, x1, y1 pixels), label, micrograph or not."""
    from PIL import Image

    from ..figsplit import SplitConfig, split_figure
    from ..imageio import read_image

    panels = split_figure(read_image(figure), config=SplitConfig(read_labels=not no_labels))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for index, panel in enumerate(panels, start=1):
            Image.fromarray(panel.image).save(out / f"{figure.stem}_panel{index:02d}{'_' + panel.label if panel.label else ''}.png")
    if as_json:
        click.echo(json.dumps({"panels": [panel.to_dict() for panel in panels]}))
        return
    for index, panel in enumerate(panels, start=1):
        kind = "micrograph" if panel.is_micrograph else f"not a micrograph: {panel.reason}"
        click.echo(f"{index}\tlabel {panel.label or '-'}\tbbox {panel.bbox}\tconfidence {panel.confidence:.2f}\t{kind}")


def register(group: click.Group) -> None:
    group.add_command(split_command)
