"""``ide db init|info`` and ``ide export``: the results database from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

DB_ENV = "IDE_DB"


def db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--db PATH|URL`` (default ``$IDE_DB``, else ``ide.sqlite``), for every command that uses the database."""
    return click.option(
        "--db",
        "db",
        envvar=DB_ENV,
        default="ide.sqlite",
        show_default=True,
        help=f"SQLite file path, or a SQLAlchemy URL such as postgresql://user@host/dbname. Env: {DB_ENV}.",
    )(command)


@click.group("db")
def db_group() -> None:
    """Create or inspect the results database."""


@db_group.command("init")
@db_option
def init(db: str) -> None:
    """Create the database and its tables (nothing happens to an existing, current one)."""
    from ..store import open_db

    with open_db(db) as database:
        click.echo(f"{database.url}: schema version {database.schema_version}")


@db_group.command("info")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(db: str, as_json: bool) -> None:
    """Schema version and the number of rows in each table."""
    from ..store import open_db

    with open_db(db, create=False) as database:
        url, version, counts = database.url, database.schema_version, database.counts()
    if as_json:
        click.echo(json.dumps({"db": url, "schema_version": version, "tables": counts}))
        return
    click.echo(f"{url}\nschema version {version}")
    for name, count in counts.items():
        click.echo(f"{name:<14}{count:>10}")


@click.command("export")
@db_option
@click.option("--format", "format_", type=click.Choice(["csv", "parquet", "json"]), default="csv", show_default=True,
              help="One file per table in this format (parquet needs pyarrow).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Directory for one file per table.")
def export_command(db: str, format_: str, out_dir: str) -> None:
    """Write every table of the database to OUT/<table>.<format>."""
    from ..store import export

    for path in export(db, out_dir, format=format_):  # type: ignore[arg-type]  # click.Choice gives str; its choices are the Literal's values
        click.echo(str(path))


def register(group: click.Group) -> None:
    group.add_command(db_group)
    group.add_command(export_command)
