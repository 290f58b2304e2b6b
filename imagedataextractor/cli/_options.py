"""Options shared by several commands (imported by the command modules; registers no command)."""

from __future__ import annotations

import click

from ..segment.precision import PRECISION_CHOICES


COMPILE_HELP = ("BPartIS: run its per-sample part compiled by torch.compile (same dropout masks and metrics; about 1.2x faster "
                "after ~12 s of compiling once per process; needs a C++ compiler).")


PRECISION_HELP = ("BPartIS arithmetic. auto: bf16 on CPUs with native bf16 (AVX512-BF16 or AMX; about 1.6x faster there, "
                  "equal metrics), else fp32 (emulated bf16 is slower); the choice is reported with the result.")


FLIPS_HELP = ("BPartIS Bayesian: spread the T samples over the image and its left-right, up-down and double flips, "
              "averaged back in the image's frame (test-time augmentation, the same T passes). Default: the model's setting.")


def bpartis_options(func):
    """The BPartIS options (--device, --model, --samples/-T, --tu, --seed, --precision, --compile,
    --flips), shared by every command that runs it; :func:`bpartis_config` turns them into settings."""
    func = click.option("--flips/--no-flips", default=None, help=FLIPS_HELP)(func)
    func = click.option("--compile", "compile_activations", is_flag=True, help=COMPILE_HELP)(func)
    func = click.option("--precision", type=click.Choice(PRECISION_CHOICES), default="auto", show_default=True, help=PRECISION_HELP)(func)
    func = click.option("--seed", default=0, show_default=True, help="Seed of the dropout masks.")(func)
    func = click.option("--tu", type=float, default=None, help="Uncertainty threshold, nats (default: the model's; 0.02 for bpartis-emps, 0.0125 for IDE 2.0 checkpoints).")(func)
    func = click.option("--samples", "-T", type=int, default=None, help="MC-dropout samples (default: the model's, 30).")(func)
    func = click.option("--model", default=None, help="Model bundle name or directory (default: the shipped bpartis-emps).")(func)
    func = click.option("--device", default="cpu", show_default=True, callback=check_device,
                        help="Run the networks on cpu or cuda (cuda:N); clustering stays on the CPU.")(func)
    return func


def check_device(ctx, param, device: str) -> str:
    """A click callback: a usage error, not a traceback, for a device this PyTorch cannot use."""
    if device == "cpu":
        return device
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise click.BadParameter(f"{device!r} is not a device (use cpu or cuda)", ctx=ctx, param=param) from None
    if parsed.type not in ("cpu", "cuda"):
        raise click.BadParameter(f"{device!r}: only cpu and cuda are supported", ctx=ctx, param=param)
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter("CUDA is not available to this PyTorch (a CPU build, or no GPU); use cpu", ctx=ctx, param=param)
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise click.BadParameter(f"{device!r}: this machine has {torch.cuda.device_count()} GPU(s)", ctx=ctx, param=param)
    return device


def bpartis_config(model, samples, tu, seed, precision, compile_activations=False, device="cpu", flips=None):
    from ..segment.config import BPartISConfig

    if samples is not None and samples < 1:
        raise click.BadParameter("must be at least 1", param_hint="--samples")
    return BPartISConfig(model=model, n_samples=samples, tu=tu, seed=seed, precision=precision, compile=compile_activations,
                         device=device, flips=flips)
