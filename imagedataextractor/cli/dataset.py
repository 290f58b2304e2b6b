"""``ide dataset ...``: build, convert, split, describe and check EMPS-layout datasets."""

from __future__ import annotations

import json
from pathlib import Path

import click

_dir = click.Path(file_okay=False, path_type=Path)
_existing_dir = click.Path(exists=True, file_okay=False, path_type=Path)
_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _finish_import(report, as_json: bool) -> None:
    """Print an import report; exit 1 when an item failed."""
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        for problem in report.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{report.out_dir}: {len(report.written)} written, {len(report.skipped)} without annotations skipped, {len(report.errors)} failed")
    if not report.ok:
        click.get_current_context().exit(1)


def _read_frame_sizes(path: Path) -> dict[str, tuple[int, int]]:
    import pandas as pd

    from ..errors import DatasetError

    frame = pd.read_csv(path, dtype={"filename": str})
    if not {"filename", "width_px", "height_px"} <= set(frame.columns):
        raise DatasetError(f"{path}: needs columns filename, width_px, height_px")
    return {name: (int(w), int(h)) for name, w, h in zip(frame["filename"], frame["width_px"], frame["height_px"])}


@click.group("dataset")
def dataset_group() -> None:
    """Build, convert, split, describe and check datasets in the EMPS layout
    (images/, segmaps/, train.csv, test.csv, metadata.csv)."""


@dataset_group.command("import-via")
@click.argument("via_json", type=_existing_file)
@click.option("--images", "images_dir", type=_existing_dir, required=True, help="Folder of the annotated images.")
@click.option("--out", "out_dir", type=_dir, required=True, help="Dataset folder to write (created; other files in it are kept).")
@click.option("--naming", type=click.Choice(["stem", "md5"]), default="stem", show_default=True, help="Output names: the file stem, or EMPS's md5(filename)[:10].")
@click.option("--short-side", "short_side_px", type=click.IntRange(min=16), default=None, help="Scale images and maps to this short side in px (EMPS: 512).")
@click.option("--frame-sizes", type=_existing_file, default=None, help="CSV filename,width_px,height_px: size each image was annotated at, when --images holds resized copies.")
@click.option("--link", is_flag=True, help="Symlink PNG images instead of copying them.")
@_json_option
def import_via_command(via_json: Path, images_dir: Path, out_dir: Path, naming: str, short_side_px: int | None, frame_sizes: Path | None, link: bool, as_json: bool) -> None:
    """Rasterise the polygons, polylines, rectangles, circles and ellipses of a VIA 2 project into
    uint16 instance maps (region k -> id k, later regions on top). Exits 1 if any entry failed."""
    from ..datasets.via import import_via

    report = import_via(
        via_json,
        images_dir=images_dir,
        out_dir=out_dir,
        naming=naming,  # type: ignore[arg-type]  # click.Choice gives str; its choices are the Literal's values
        short_side_px=short_side_px,
        frame_sizes=_read_frame_sizes(frame_sizes) if frame_sizes else None,
        link=link,
        progress=not as_json,
    )
    _finish_import(report, as_json)


@dataset_group.command("import-coco")
@click.argument("coco_json", type=_existing_file)
@click.option("--images", "images_dir", type=_existing_dir, required=True, help="Folder of the images named in the JSON.")
@click.option("--out", "out_dir", type=_dir, required=True, help="Dataset folder to write.")
@click.option("--link", is_flag=True, help="Symlink PNG images instead of copying them.")
@_json_option
def import_coco_command(coco_json: Path, images_dir: Path, out_dir: Path, link: bool, as_json: bool) -> None:
    """Turn COCO instance annotations (RLE or polygons) into instance maps, ids 1..n in annotation-id
    order. Exits 1 if any image failed."""
    from ..datasets.coco import import_coco

    _finish_import(import_coco(coco_json, images_dir=images_dir, out_dir=out_dir, link=link, progress=not as_json), as_json)


@dataset_group.command("export")
@click.argument("root", type=_existing_dir)
@click.option("--format", "format_", type=click.Choice(["coco"]), default="coco", show_default=True, help="Annotation format to write.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSON file to write.")
@click.option("--encoding", type=click.Choice(["rle", "polygon"]), default="rle", show_default=True, help="rle is lossless; polygon drops holes.")
@click.option("--split", type=click.Choice(["all", "train", "test"]), default="all", show_default=True,
              help="Export every image, or those listed in train.csv or test.csv.")
@_json_option
def export_command(root: Path, format_: str, out_path: Path, encoding: str, split: str, as_json: bool) -> None:
    """Export the instance maps of ROOT as COCO instance JSON (category 1, "particle")."""
    from ..datasets.coco import export_coco

    result = export_coco(root, out_path=out_path, encoding=encoding, split=split, progress=not as_json)  # type: ignore[arg-type]  # click.Choice gives str; its choices are the Literal's values
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(f"{result.path}: {result.n_images} images, {result.n_annotations} annotations")


@dataset_group.command("split")
@click.argument("root", type=_existing_dir)
@click.option("--by", type=click.Choice(["publication"]), default="publication", show_default=True, help="Keep the images of one DOI (metadata.csv) on one side.")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2, show_default=True,
              help="Share of the publications put in the test set.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random choice of test publications.")
@click.option("--force", is_flag=True, help="Replace existing train.csv/test.csv.")
@_json_option
def split_command(root: Path, by: str, test_fraction: float, seed: int, force: bool, as_json: bool) -> None:
    """Write train.csv and test.csv so that no publication straddles the split."""
    from ..datasets.tools import split_by_publication, write_split

    split = split_by_publication(root, test_fraction=test_fraction, seed=seed)
    write_split(root, split, overwrite=force)
    if as_json:
        click.echo(json.dumps(split.to_dict()))
    else:
        click.echo(
            f"{root}: train {len(split.train)} images ({split.n_train_publications} publications), "
            f"test {len(split.test)} images ({split.n_test_publications} publications)"
        )


@dataset_group.command("stats")
@click.argument("root", type=_existing_dir)
@click.option("--out", "out_dir", type=_dir, default=None, help="Folder for the CSV tables and PNG histograms [default: ROOT/stats].")
@_json_option
def stats_command(root: Path, out_dir: Path | None, as_json: bool) -> None:
    """Particles per image and particle sizes (px): images.csv, particles.csv and two histograms."""
    from ..datasets.tools import dataset_stats, write_stats

    stats = dataset_stats(root, progress=not as_json)
    paths = write_stats(stats, out_dir or root / "stats")
    counts, diameters = stats.images["n_particles"], stats.particles["equivalent_diameter_px"]
    summary = {
        "n_images": int(len(counts)),
        "n_particles": int(counts.sum()),
        "particles_per_image_median": float(counts.median()) if len(counts) else None,
        "equivalent_diameter_median_px": float(diameters.median()) if len(diameters) else None,
        "files": [str(p) for p in paths],
    }
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"{root}: {summary['n_images']} images, {summary['n_particles']} particles")
    for path in paths:
        click.echo(f"wrote {path}")


@dataset_group.command("validate")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@_json_option
def validate_command(root: Path, strict: bool, as_json: bool) -> None:
    """Check sizes, readability, orphans, empty maps, ids, split files and DOI leakage.

    Prints one line per problem naming the file; exits 1 on any error (or warning with --strict)."""
    from ..datasets.tools import validate_dataset

    report = validate_dataset(root, progress=not as_json)
    failed = not report.ok or (strict and report.warnings)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        for problem in report.problems:
            click.echo(str(problem))
        click.echo(f"{root}: {report.n_images} images, {len(report.errors)} errors, {len(report.warnings)} warnings", err=True)
    if failed:
        click.get_current_context().exit(1)


@dataset_group.command("compare")
@click.argument("root", type=_existing_dir)
@click.argument("reference", type=_existing_dir)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the per-image table to this CSV file.")
@_json_option
def compare_command(root: Path, reference: Path, out_path: Path | None, as_json: bool) -> None:
    """Agreement of ROOT's maps with REFERENCE's, image by image (same stems): foreground and
    exact-id (up to renaming) pixel agreement, and instances matched at IoU > 0.5."""
    from ..datasets.tools import compare_datasets, summarise_agreement

    frame = compare_datasets(root, reference)
    if out_path is not None:
        frame.to_csv(out_path, index=False)
    summary = summarise_agreement(frame)
    if as_json:
        click.echo(json.dumps(summary))
        return
    if not summary["n_images"]:
        click.echo(f"{root} and {reference} have no map in common")
        return
    click.echo(
        f"{summary['n_images']} images: foreground agreement {summary['foreground_agreement']:.4f}, "
        f"id agreement {summary['id_agreement']:.4f}, {summary['n_matched']}/{summary['n_reference']} "
        f"reference instances matched at IoU > 0.5 ({summary['matched_fraction']:.4f})"
    )


@dataset_group.command("build")
@click.option("--doi-list", "doi_list", type=_existing_file, required=True, help="Text file of DOIs, one per line (# comments allowed).")
@click.option("--out", "out_dir", type=_dir, required=True,
              help="Dataset folder to write: images/, metadata.csv, via_project.json. A rebuild there removes images it no longer writes; a folder with segmaps/ is refused.")
@click.option("--corpus", "corpus_dir", type=_dir, default=None, help="Harvest corpus folder (reused across runs) [default: OUT/corpus].")
@click.option("--db", "db", default=None, help="Also record the articles and figures in this database (path or SQLAlchemy URL).")
@_json_option
def build_command(doi_list: Path, out_dir: Path, corpus_dir: Path | None, db: str | None, as_json: bool) -> None:
    """Harvest the DOIs, keep the micrograph panels of their figures, drop near-duplicates, and write
    an unannotated dataset with a VIA 2 project to annotate. Endpoints and keys come from the
    environment (see ide harvest). Exits 1 if any article or figure failed."""
    from ..datasets.build import build_dataset
    from ..harvest import read_doi_list

    report = build_dataset(read_doi_list(doi_list), out_dir=out_dir, corpus_dir=corpus_dir, db=db, progress=not as_json)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        for failure in report.failures:
            click.echo(f"failed: {failure}", err=True)
        click.echo(
            f"{report.out_dir}: {report.n_articles} articles, {report.n_figures} figures ({report.n_em_figures} EM), "
            f"{report.n_panels} panels, {report.n_micrographs} micrographs, {report.n_duplicates} duplicates dropped, "
            f"{report.n_written} images written, {len(report.failures)} failed"
            + (f", {len(report.removed)} stale images of an earlier build removed" if report.removed else "")
        )
    if not report.ok:
        click.get_current_context().exit(1)


def register(group: click.Group) -> None:
    group.add_command(dataset_group)
