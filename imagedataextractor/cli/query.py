"""``ide query``: particles, panels or a pooled size distribution across papers, from the database."""

from __future__ import annotations

import json
import sys

import click

from .db import db_option


@click.command("query")
@db_option
@click.option("--material", help='A material the caption names: "Au", "gold", "TiO2", "TiO₂", "titania" (names, subscripts and case normalised).')
@click.option("--microscopy", help="A technique the caption names: TEM, SEM, HRTEM, STEM... (case-insensitive).")
@click.option("--doi", help="Only this article.")
@click.option("--min-particles", type=click.IntRange(min=0), help="Only panels with at least this many particles.")
@click.option("--panels", "per_panel", is_flag=True, help="One row per panel (provenance, scalebar, size distribution with intervals) instead of per particle.")
@click.option("--pooled", is_flag=True, help="One row per size unit: the pooled size distribution of the matching panels, with 95 %% intervals.")
@click.option("--format", "format_", type=click.Choice(["csv", "json", "parquet"]), default="csv", show_default=True,
              help="csv and json go to standard output unless --out; parquet (needs pyarrow) needs --out.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
def query_command(db: str, material: str | None, microscopy: str | None, doi: str | None, min_particles: int | None,
                  per_panel: bool, pooled: bool, format_: str, out: str | None) -> None:
    """Rows matching every filter given: by default one per particle, with its size spread over the
    MC-dropout samples, its panel's size interval and its provenance (article, figure, panel,
    scalebar, materials, caption)."""
    from ..store import query

    if per_panel and pooled:
        raise click.UsageError("--panels and --pooled: choose one")
    if format_ == "parquet" and out is None:
        raise click.UsageError("--format parquet needs --out FILE")
    frame = query(db, material=material, microscopy=microscopy, doi=doi, min_particles=min_particles,
                  level="pooled" if pooled else "panels" if per_panel else "particles")
    # Lists (materials, bin edges, counts) as JSON text in CSV and parquet; nested in JSON.
    if format_ != "json":
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, (list, dict))).any():
                frame[column] = [None if v is None else json.dumps(v) for v in frame[column]]
    if format_ == "parquet":
        frame.to_parquet(out, index=False)
    elif format_ == "json":
        # Through pandas' JSON (NaN as null, times as ISO 8601) and back, to print DOIs' slashes unescaped.
        records = json.loads(frame.to_json(orient="records", date_format="iso"))
        text = json.dumps(records, indent=1, ensure_ascii=False)
        if out:
            with open(out, "w", encoding="utf-8") as file:
                file.write(text + "\n")
        else:
            click.echo(text)
    else:
        frame.to_csv(out if out else sys.stdout, index=False)


def register(group: click.Group) -> None:
    group.add_command(query_command)
