"""``ide scalebar IMAGE``: read a micrograph's scalebar."""

from __future__ import annotations

import json
from pathlib import Path

import click

#: Fields printed by ``ide scalebar --json`` (null when no bar or no readable label).
JSON_FIELDS = ("text", "value", "unit", "length_px", "nm_per_px")


@click.command("scalebar")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help='Print {"text", "value", "unit", "length_px", "nm_per_px"}.')
def scalebar_command(image: Path, as_json: bool) -> None:
    """Find the scalebar in IMAGE, read its label and print nanometres per pixel."""
    from ..imageio import read_image
    from ..scalebar import read_scalebar

    result = read_scalebar(read_image(image))
    if as_json:
        record = result.to_dict()
        click.echo(json.dumps({field: record[field] for field in JSON_FIELDS}))
    elif not result.found:
        click.echo(f"{image}: no scalebar found")
    elif result.nm_per_px is None:
        click.echo(f"{image}: bar of {result.length_px:.1f} px, label unreadable ({result.text!r})")
    else:
        click.echo(f"{image}: {result.value:g} {result.unit} = {result.length_px:.1f} px -> {result.nm_per_px:.4g} nm/px")


def register(group: click.Group) -> None:
    group.add_command(scalebar_command)
