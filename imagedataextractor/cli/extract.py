"""``ide extract``: the whole pipeline on figures (or folders of them) or on the EM figures of articles
(local files, or DOIs harvested as needed), from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import exit_for_batch
from .db import DB_ENV
from ..segment.config import METHODS
from ._options import bpartis_config, bpartis_options


@click.command("extract")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--doi-list", "doi_list", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Text file of DOIs, one per line (# comments allowed): harvest each article, then extract its EM figures.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default="ide-out", show_default=True,
              help="Images: one sub-folder of results per panel and the review page OUT/index.html. Articles: holds the default database and corpus.")
@click.option("--db", "db", envvar=DB_ENV, default=None,
              help=f"Save results in this database (SQLite path or SQLAlchemy URL). Env: {DB_ENV}. Default: OUT/ide.sqlite.")
@click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Corpus directory that --doi-list articles are harvested into (default: OUT/corpus).")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Articles downloaded and parsed at once while figures are segmented.")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Articles: run on Dask: local:N (N worker processes here), tcp://HOST:PORT (a running scheduler), or slurm, pbs, lsf "
                   "(jobs from --cluster-config). Needs the extra 'distributed'; see README 'Running on a cluster'.")
@click.option("--cluster-config", "cluster_config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML file of the batch jobs for --cluster slurm|pbs|lsf: queue, cores, memory, walltime, gpus, jobs or adaptive.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Harvest config file with keys and URLs (default: $IDE_CONFIG, else ide.toml in the user config directory).")
@click.option("--method", type=click.Choice(METHODS), default="bpartis", show_default=True, help="Segmentation method (see `ide segment --help`).")
@click.option("--keep-border", is_flag=True, help="Keep particles touching the panel border.")
@click.option("--no-label-mask", is_flag=True,
              help="Segment panel labels printed inside micrographs too (by default they are found, inpainted and their particles dropped).")
@click.option("--no-split", is_flag=True, help="Treat each image as one micrograph instead of splitting it into panels.")
@bpartis_options
@click.option("--progress/--no-progress", default=None,
              help="Progress bars on stderr: images and panels with the stage each is in, or articles, figures, panels and particles "
                   "(default: when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: for images {results: [...], n_done, n_skipped, n_failed}; for articles the run summary.")
def extract_command(sources, doi_list, out_dir, db, corpus_dir, workers, cluster, cluster_config, config_file, method, keep_border, no_label_mask, no_split, device,
                    model, samples, tu, seed, precision, compile_activations, flips, progress, as_json):
    """Extract particle statistics from FIGURE_OR_DIR... (image files, or folders of them), or from
    the EM figures of articles: ARTICLE.xml|ARTICLE.html|DIR... (a DIR of article files, or a
    corpus laid out by DOI) or --doi-list FILE.

    Images: writes OUT/<figure-stem>[_<panel label or index>]/ (<figure-stem>_<suffix> where a
    folder holds x.png and x.jpg) with summary.json, particles.csv, overlay.png,
    size_histogram.png and rdf.png for every measured panel (summary.json only for skipped and
    failed ones) as soon as its image is done, stores the results in the database (images keyed
    by their absolute path and pixels), writes the review page of everything in the database,
    OUT/index.html (see `ide report`), and prints one line per panel. Interrupted (Ctrl-C, kill),
    the same command resumes: images done before are not extracted again ("already extracted").

    Articles: harvests each DOI into the corpus (keys: IDE_ELSEVIER_API_KEY, IDE_SPRINGER_API_KEY;
    see `ide harvest --help`), decides from each caption (and, when the caption is not clear, from
    the image) whether a figure shows electron micrographs, measures those, and stores articles,
    figures, panels, scalebars, particles, distributions and RDFs in the database. Interrupted
    (Ctrl-C, kill), the same command resumes where it stopped. Prints failures, skip reasons and
    totals.

    Exit status: 0 every input done or skipped, 3 some failed, 1 every input failed or an error
    stopped the run, 2 usage error.

    With --cluster, each article's harvest and each figure's extraction is a Dask task: on N local
    worker processes, an existing scheduler, or SLURM/PBS/LSF jobs (--cluster-config); the
    publishers' rate limits hold for the whole cluster and the Dask dashboard's address is printed.

    \b
    Example:
      ide extract --doi-list corpus/demo/dois.txt --out demo-out --method watershed
      ide extract --doi-list corpus/demo/dois.txt --out demo-out --method watershed --cluster local:2
    """
    from ..document.corpus import is_article_source
    from ..settings import ExtractSettings

    if not sources and doi_list is None:
        raise click.UsageError("give figures, articles or --doi-list FILE")
    spec = _cluster_spec(cluster, cluster_config)
    config = bpartis_config(model, samples, tu, seed, precision, compile_activations, device, flips)
    settings = ExtractSettings(method=method, split=not no_split, keep_border=keep_border, mask_labels=not no_label_mask, bpartis=config)
    _check_writable(out_dir)

    article_sources = [s for s in sources if is_article_source(s)]
    if doi_list is not None or article_sources:
        if len(article_sources) != len(sources):
            images = ", ".join(str(s) for s in sources if s not in article_sources)
            raise click.UsageError(f"give either figures or articles, not both (not articles: {images})")
        _extract_articles(article_sources, doi_list, out_dir, db, corpus_dir, workers, spec, config_file, settings, progress, as_json)
    elif spec is not None:
        raise click.UsageError("--cluster runs articles (--doi-list FILE or article files), not images")
    else:
        _extract_images(sources, out_dir, db, settings, progress, as_json)


def _cluster_spec(cluster, cluster_config):
    """The parsed --cluster (None without it); a bad address or config file is a usage error."""
    from ..cluster import parse_cluster
    from ..errors import ClusterError

    if cluster is None:
        if cluster_config is not None:
            raise click.UsageError("--cluster-config needs --cluster slurm, pbs or lsf")
        return None
    try:
        return parse_cluster(cluster, cluster_config)
    except ClusterError as exc:
        raise click.BadParameter(str(exc), param_hint="'--cluster'") from None


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".ide-write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise click.ClickException(f"{out_dir}: output folder is not writable ({exc.strerror or exc})") from None


def _extract_images(sources, out_dir: Path, db, settings, progress, as_json: bool) -> None:
    from ..errors import IDEError
    from ..pipeline import extract
    from ..progress import wanted
    from ..report import write_report
    from ..store import open_db

    progress = wanted(progress)
    results = []
    try:
        with open_db(db or out_dir / "ide.sqlite") as database:
            for source in sources:
                results.extend(extract(source, settings, db=database, out=out_dir, progress=progress))
            write_report(database, out_dir, progress=progress)
    except IDEError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("Interrupted: run the same command again to resume where it stopped.", err=True)
        click.get_current_context().exit(130)
    counts = {status: sum(r.status == status for r in results) for status in ("done", "skipped", "failed")}
    if as_json:
        click.echo(json.dumps({"out": str(out_dir), "db": database.url, "results": [_row(r) for r in results], **{f"n_{k}": v for k, v in counts.items()}}))
    else:
        click.echo(f"{'name':<28}{'status':<9}{'particles':>10}{'nm/px':>9}{'mean d':>12}  note")
        for result in results:
            row = _row(result)
            scale = "-" if row["nm_per_px"] is None else f"{row['nm_per_px']:.3g}"
            mean = "-" if row["diameter_mean"] is None else f"{row['diameter_mean']:.1f} {row['units']}"
            particles = "-" if row["n_particles"] is None else row["n_particles"]
            note = row["reason"] or ("no scalebar: sizes in px" if row["units"] == "px" else "")
            click.echo(f"{row['name']:<28}{row['status']:<9}{particles:>10}{scale:>9}{mean:>12}  {note}")
        click.echo(f"{counts['done']} measured, {counts['skipped']} skipped, {counts['failed']} failed -> {out_dir / 'index.html'}")
    exit_for_batch(counts["failed"], len(results))


def _extract_articles(sources, doi_list, out_dir: Path, db, corpus_dir, workers: int, cluster, config_file, settings, progress,
                      as_json: bool) -> None:
    from ..errors import IDEError
    from ..harvest import HarvestConfig, load_settings, read_doi_list
    from ..literature import extract_articles

    dois = read_doi_list(doi_list) if doi_list is not None else []
    try:
        summary = extract_articles(
            dois,
            articles=sources,
            db=db or out_dir / "ide.sqlite",
            corpus=corpus_dir or out_dir / "corpus",
            workers=workers,
            harvest_config=HarvestConfig(article_workers=workers),
            harvest_settings=load_settings(config_file=config_file) if dois else None,
            progress=sys.stderr.isatty() if progress is None else progress,
            settings=settings,
            cluster=cluster,
        )
    except IDEError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("Interrupted: run the same command again to resume where it stopped.", err=True)
        click.get_current_context().exit(130)
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
    else:
        for article in summary.articles:
            if article.status == "failed" or (article.status == "skipped" and article.reason != "already extracted"):
                click.echo(f"{article.status:8s}{article.item}: {article.reason}")
        for figure in summary.figures:
            if figure.status == "failed":
                click.echo(f"failed  {figure.article} {figure.locator}: {figure.reason}")
        for reason, count in summary.reasons("skipped").most_common():
            click.echo(f"skipped {count} figure{'s' * (count != 1)}: {reason}")
        articles, figures = ({s: summary.count(s, of=of) for s in ("done", "skipped", "failed")} for of in ("articles", "figures"))
        click.echo(
            f"{len(summary.articles)} articles ({articles['done']} done, {articles['skipped']} skipped, {articles['failed']} failed), "
            f"{len(summary.figures)} figures ({figures['done']} done, {figures['skipped']} skipped, {figures['failed']} failed): "
            f"{summary.n_em_panels} EM panels, {summary.n_particles} particles in {summary.elapsed_s:.1f} s -> {summary.db}"
        )
    exit_for_batch(summary.count("failed"), len(summary.articles))


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
