"""``ide segment``, ``ide train``, ``ide evaluate`` and ``ide models``."""

from __future__ import annotations

import json
from pathlib import Path

import click

METHOD_NAMES = ("bpartis", "bpartis-bayesian", "bpartis-discriminative", "ide1", "gmm", "watershed")


def _bpartis_options(func):
    func = click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
                        help="bf16: bfloat16 convolutions, about 1.6x faster on CPUs with AVX512-BF16/AMX.")(func)
    func = click.option("--seed", default=0, show_default=True, help="Seed of the dropout masks.")(func)
    func = click.option("--tu", type=float, default=None, help="Uncertainty threshold (default: the model's, 0.0125).")(func)
    func = click.option("--samples", "-T", type=int, default=None, help="MC-dropout samples (default: the model's, 30).")(func)
    func = click.option("--model", default=None, help="Model bundle name or directory (default: the shipped bpartis-emps).")(func)
    return func


def _bpartis_config(model, samples, tu, seed, precision):
    from ..segment.predict import BPartISConfig

    if samples is not None and samples < 1:
        raise click.BadParameter("must be at least 1", param_hint="--samples")
    return BPartISConfig(model=model, n_samples=samples, tu=tu, seed=seed, precision=precision)


@click.command("segment")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Instance map to write (uint16 PNG, 0 = background).")
@click.option("--method", type=click.Choice(METHOD_NAMES), default="bpartis", show_default=True)
@click.option("--mode", type=click.Choice(["bayesian", "discriminative"]), default=None, help="BPartIS mode (shortcut for --method bpartis-*).")
@_bpartis_options
@click.option("--keep-border", is_flag=True, help="Keep particles touching the image border.")
@click.option("--uncertainty-out", type=click.Path(path_type=Path), default=None, help="Write the per-pixel uncertainty as a 16-bit PNG (scaled to log 2 = 65535).")
@click.option("--json", "as_json", is_flag=True, help="Print {n_particles, seconds} as JSON.")
def segment_command(image, out, method, mode, model, samples, tu, seed, precision, keep_border, uncertainty_out, as_json):
    """Segment the particles of IMAGE into an instance map at the input's size."""
    import math
    import time

    import numpy as np
    from PIL import Image

    from ..imageio import read_image
    from ..segment.methods import segment

    if mode == "discriminative":
        method = "bpartis-discriminative"
    pixels = read_image(image)
    started = time.perf_counter()
    result = segment(pixels, method=method, keep_border=keep_border, bpartis=_bpartis_config(model, samples, tu, seed, precision))
    seconds = time.perf_counter() - started
    _write_png(out, result.labels.astype(np.uint16))
    if uncertainty_out is not None:
        if result.uncertainty is None:
            raise click.UsageError(f"method {method} gives no uncertainty map")
        scaled = np.clip(result.uncertainty / math.log(2), 0, 1) * 65535
        _write_png(uncertainty_out, scaled.astype(np.uint16))
    if as_json:
        click.echo(json.dumps({"n_particles": result.n_instances, "seconds": round(seconds, 3)}))
    else:
        click.echo(f"{image}: {result.n_instances} particles ({method}, {seconds:.2f} s) -> {out}")


def _write_png(path: Path, array) -> None:
    from PIL import Image

    from ..errors import IDEError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path, format="PNG")
    except OSError as exc:
        raise IDEError(f"{path}: cannot write ({exc.strerror or exc})") from None


@click.command("train")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Dataset directory in the EMPS layout.")
@click.option("--out", "out_dir", default="runs/bpartis", show_default=True, type=click.Path(path_type=Path), help="Checkpoint directory.")
@click.option("--epochs", default=300, show_default=True)
@click.option("--size", "crop", default=256, show_default=True, help="Training crop size in pixels (cut from 512-px images).")
@click.option("--batch", default=5, show_default=True)
@click.option("--lr", default=3e-4, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--seed", default=0, show_default=True)
@click.option("--resume", type=click.Path(path_type=Path), default=None, help="Continue from a last.pt checkpoint.")
@click.option("--init-weights", default=None, help="Start from this model bundle's weights (name or directory).")
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=None, help="After training, write the best weights as a model bundle here.")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="bf16: bfloat16 autocast, about 1.7x faster on CPUs with AVX512-BF16/AMX.")
@click.option("--threads", type=int, default=0, help="Torch CPU threads (0: torch's default).")
def train_command(data, out_dir, epochs, crop, batch, lr, device, seed, resume, init_weights, export_dir, precision, threads):
    """Train BPartIS on an EMPS-layout dataset (validation on held-out publications of the train split)."""
    from ..train import TrainConfig, train
    from ..train.export import export_checkpoint

    config = TrainConfig(data=str(data), out_dir=str(out_dir), epochs=epochs, crop=crop, batch=batch, lr=lr, device=device, seed=seed,
                         precision=precision, threads=threads)
    best = train(config, resume=resume, init_weights=init_weights)
    click.echo(f"best checkpoint: {best}")
    if export_dir:
        bundle = export_checkpoint(best, export_dir)
        click.echo(f"model bundle: {bundle.path}")


@click.command("evaluate")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Dataset directory in the EMPS layout.")
@click.option("--split", default="test", show_default=True, help="train, test or all.")
@click.option("--method", default="bpartis", show_default=True, help=f"One of {', '.join(METHOD_NAMES)}, or 'all'.")
@click.option("--mode", type=click.Choice(["bayesian", "discriminative"]), default=None, help="BPartIS mode (shortcut for --method bpartis or bpartis-discriminative).")
@_bpartis_options
@click.option("--limit", type=int, default=None, help="Only the first N images.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per method.")
def evaluate_command(data, split, method, mode, model, samples, tu, seed, precision, limit, as_json):
    """Score segmentation methods on a dataset split (the BPartIS paper's metrics, COCO mAP, F1)."""
    from ..evaluate import PAPER_TABLE, evaluate_method

    if method == "all":
        methods = list(METHOD_NAMES)
    elif method in METHOD_NAMES:
        methods = [method]
    else:
        raise click.BadParameter(f"{method!r} is not one of {', '.join(METHOD_NAMES)}, all", param_hint="--method")
    if mode == "discriminative" and methods == ["bpartis"]:
        methods = ["bpartis-discriminative"]
    config = _bpartis_config(model, samples, tu, seed, precision)
    results = [evaluate_method(data, split=split, method=m, bpartis=config, limit=limit) for m in methods]
    if as_json:
        for result in results:
            click.echo(json.dumps(result.to_json()))
        return
    header = f"{'method':24} {'n':>4} {'AP':>6} {'AP50':>6} {'AP75':>6} {'mIoU':>6} {'mAP':>6} {'F1@.5':>6} {'s/img':>7}   paper AP/AP50/AP75/mIoU"
    click.echo(header)
    for result in results:
        row = result.to_json()
        cells = " ".join(f"{row[k]:6.3f}" if row[k] is not None else f"{'-':>6}" for k in ("AP", "AP50", "AP75", "mIoU", "mAP_coco", "F1_50"))
        paper = "/".join(f"{v:.3f}" for v in PAPER_TABLE.get(result.method, ())) or "-"
        click.echo(f"{result.method:24} {row['n_images']:4d} {cells} {row['seconds_per_image'] or 0:7.2f}   {paper}")


@click.group("models")
def models_group():
    """List, locate, verify and import segmentation models."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def models_list(as_json):
    """Model bundles found on the search path."""
    from ..models import list_models

    bundles = list_models()
    if as_json:
        click.echo(json.dumps([{"name": b.name, "version": b.version, "path": str(b.path)} for b in bundles]))
    for bundle in [] if as_json else bundles:
        click.echo(f"{bundle.name:24} {bundle.version:12} {bundle.path}")


@models_group.command("where")
def models_where():
    """Directories searched for models, highest priority first."""
    from ..models.registry import search_path

    for directory in search_path():
        click.echo(str(directory))


@models_group.command("verify")
@click.argument("model", required=False)
def models_verify(model):
    """Check a model's weights against the sha256 in its config (default model if none named)."""
    from ..errors import ModelError
    from ..models import resolve

    bundle = resolve(model)
    if not bundle.verify():
        raise ModelError(f"{bundle.path}: weights do not match the recorded sha256")
    click.echo(f"{bundle.name}: OK ({bundle.config['sha256'][:12]})")


@models_group.command("import")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--name", default="bpartis-ide2", show_default=True, help="Name of the new bundle.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None, help="Bundle directory (default: the user model directory / NAME).")
def models_import(checkpoint, name, out_dir):
    """Import a checkpoint saved by the original BPartIS / ImageDataExtractor 2.0 code."""
    from ..models import user_model_dir
    from ..models.convert import import_ide2_checkpoint

    bundle = import_ide2_checkpoint(checkpoint, out_dir or user_model_dir() / name, name=name)
    click.echo(f"imported {checkpoint} as {bundle.name} -> {bundle.path} (use --model {bundle.name})")


def register(group: click.Group) -> None:
    for command in (segment_command, train_command, evaluate_command, models_group):
        group.add_command(command)
