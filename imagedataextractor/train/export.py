"""Turn a training checkpoint into a shippable model bundle."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from ..models.registry import ModelBundle


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, *, name: str | None = None) -> ModelBundle:
    """Write the model weights of a ``best.pt``/``last.pt`` from ``ide train`` as a bundle of the
    method it trained (default name ``<method>-emps``) with its inference defaults and the training
    provenance (epochs, crop, data)."""
    import torch

    from .tasks import training_task

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state:
        raise ModelError(f"{checkpoint}: not a training checkpoint written by 'ide train'")
    method = state["config"].get("method", "bpartis")
    return training_task(method).export(state, Path(out_dir), name or f"{method}-emps")
