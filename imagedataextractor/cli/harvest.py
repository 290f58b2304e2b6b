"""``ide harvest``: fetch articles and figure files by DOI; ``ide document``: list an article's figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import exit_for_batch


@click.command("harvest")
@click.argument("dois", nargs=-1)
@click.option("--doi-list", "doi_list", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Text file of DOIs, one per line (# comments allowed).")
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("ide-corpus"),
              show_default=True, help="Corpus directory (one sub-directory per DOI).")
@click.option("--publisher", type=click.Choice(["auto", "elsevier", "springer", "europepmc"]), default="auto", show_default=True,
              help="Source: auto routes each DOI by prefix, else Crossref; a name uses only that source.")
@click.option("--em-only", is_flag=True, help="Download only figures whose caption names electron microscopy.")
@click.option("--retry-failed", is_flag=True, help="Also retry DOIs that failed for good before (404, malformed XML, ...).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Config file with keys and URLs (default: $IDE_CONFIG, else ide.toml in the user config directory).")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True, help="Articles in progress at once.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every outcome.")
def harvest_command(dois, doi_list, corpus_dir, publisher, em_only, retry_failed, config_file, workers, progress, as_json):
    """Fetch each article's full text and figure files into a corpus directory.

    Sources: Elsevier (key: IDE_ELSEVIER_API_KEY, optional IDE_ELSEVIER_INSTTOKEN), Springer Nature
    open access (IDE_SPRINGER_API_KEY) and Europe PMC (no key). Base URLs: IDE_*_API_URL. Re-running
    fetches only what is missing; one bad DOI is recorded as failed and the run goes on.
    Exit status: 0 every DOI done or skipped, 3 some failed, 1 every DOI failed or an error stopped
    the run, 2 usage error.

    \b
    Example:
      ide harvest --doi-list corpus/demo/dois.txt --corpus my-corpus
    """
    from ..harvest import HarvestConfig, harvest, load_settings, read_doi_list

    wanted = list(dois) + (read_doi_list(doi_list) if doi_list else [])
    if not wanted:
        raise click.UsageError("give DOIs as arguments or --doi-list FILE")
    settings = load_settings(config_file=config_file)
    summary = harvest(
        wanted,
        corpus_dir=corpus_dir,
        publisher=publisher,
        figures="em" if em_only else "all",
        config=HarvestConfig(article_workers=workers),
        settings=settings,
        retry_failed=retry_failed,
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    counts = {s: summary.count(s) for s in ("done", "skipped", "failed")}
    if as_json:
        click.echo(json.dumps({"corpus": str(corpus_dir), **counts, "elapsed_s": round(summary.elapsed_s, 3),
                               "requests": summary.n_requests, "outcomes": summary.to_records()}))
        exit_for_batch(counts["failed"], len(summary.outcomes))
        return
    for outcome in summary.outcomes:
        if outcome.status != "done":
            click.echo(f"{outcome.status:7s} {outcome.doi}: {outcome.reason}")
    n_files = sum(o.n_fetched for o in summary.outcomes)
    click.echo(
        f"{len(summary.outcomes)} DOIs in {summary.elapsed_s:.1f} s: {counts['done']} done, {counts['skipped']} skipped, "
        f"{counts['failed']} failed; {n_files} files fetched with {summary.n_requests} requests into {corpus_dir}"
    )
    exit_for_batch(counts["failed"], len(summary.outcomes))


@click.command("document")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--em-only", is_flag=True, help="List only figures whose caption names electron microscopy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def document_command(path, em_only, as_json):
    """List the figures of an article file (Elsevier XML, JATS, publisher HTML), or of every
    article in a corpus directory, with caption, image file and EM decision."""
    from ..document import parse_article, read_corpus

    if path.is_dir():
        reading = read_corpus(path)
        articles, failures = reading.articles, [{"path": str(p), "reason": r} for p, r in reading.failures]
    else:
        articles, failures = (parse_article(path),), []
    records = []
    for article in articles:
        figures = article.em_figures if em_only else article.figures
        records.append({
            "doi": article.doi, "title": article.title, "journal": article.journal, "publisher": article.publisher,
            "licence": article.licence, "format": article.format, "path": str(article.path),
            "figures": [{"label": f.label, "locator": f.locator, "caption": f.caption, "href": f.href,
                         "image_path": str(f.image_path) if f.image_path else None, "is_em": f.em.is_em,
                         "microscopy": list(f.em.microscopy), "materials": list(f.em.materials)} for f in figures],
        })
    if as_json:
        click.echo(json.dumps({"articles": records, "failures": failures}))
        return
    for record in records:
        click.echo(f"{record['doi']}  ({record['format']}) {record['title'] or ''}")
        for f in record["figures"]:
            em = f"EM {'/'.join(f['microscopy'])}" if f["is_em"] else "not EM"
            materials = f" [{', '.join(f['materials'])}]" if f["materials"] else ""
            click.echo(f"  {f['locator']:8s} {em}{materials}  {f['image_path'] or f['href'] or '-'}")
    for failure in failures:
        click.echo(f"failed {failure['path']}: {failure['reason']}")


def register(group: click.Group) -> None:
    group.add_command(harvest_command)
    group.add_command(document_command)
