"""``ide measure``: particle sizes and shapes from an instance label map."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("measure")
@click.argument("mask", type=click.Path(path_type=Path))
@click.option("--nm-per-px", type=click.FloatRange(min=0, min_open=True), default=None, help="Scale in nm per pixel; adds the *_nm columns.")
@click.option("--include-border", is_flag=True, help="Count particles touching the image border in the statistics.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: summary, particles, histograms, rdf.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the particle table to this CSV file.")
def measure_command(mask: Path, nm_per_px: float | None, include_border: bool, as_json: bool, out: Path | None) -> None:
    """Measure the particles of MASK, a uint16 instance map (PNG/TIFF, 0 = background)."""
    from ..imageio import read_instance_map
    from ..measure import MeasureConfig, measure

    result = measure(read_instance_map(mask), nm_per_px=nm_per_px, config=MeasureConfig(include_border=include_border))
    if out is not None:
        result.particles.to_csv(out, index=False)
    if as_json:
        click.echo(json.dumps(result.to_dict(), allow_nan=False))
        return
    summary = result.summary
    unit = "px" if nm_per_px is None else "nm"
    click.echo(f"{mask}: {summary['n_particles']} particles counted ({summary['n_border_excluded']} on the border left out), coverage {summary['coverage']:.3f}")
    if summary["n_particles"]:
        click.echo(
            f"diameter mean {summary[f'diameter_mean_{unit}']:.2f} {unit}, median {summary[f'diameter_median_{unit}']:.2f} {unit}"
            + (f", std {summary[f'diameter_std_{unit}']:.2f} {unit}" if summary[f"diameter_std_{unit}"] is not None else "")
        )


def register(group: click.Group) -> None:
    group.add_command(measure_command)
