"""Import checkpoints saved by the original BPartIS / ImageDataExtractor 2.0 code.

Their state_dict names the same ERFNet differently (``encoder.initial_block``, ``encoder.layers.N``,
``decoders.0/1``, ``conv3x1_1`` ...); this maps every tensor to our names, refuses anything that
does not fit exactly, and writes a bundle with the original inference settings.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ModelError
from ..models.registry import ModelBundle, write_bundle

_CONV_NAMES = {"conv3x1_1": "conv_v1", "conv1x3_1": "conv_h1", "conv3x1_2": "conv_v2", "conv1x3_2": "conv_h2"}
#: Encoder layer index in the original -> our module path. layers.0 is the second downsampler.
_N_STEM_LAYERS = 1

#: Inference settings of ImageDataExtractor 2.0.4 (its segment/model.py and cluster.py).
IDE2_DEFAULTS = {"input_size": 512, "n_samples": 30, "tu": 0.0125, "seed_threshold": 0.5, "min_size": 128}


def _rename(key: str) -> str | None:
    if key.startswith("encoder.output_conv."):
        return None  # encoder-only classification head, unused by the two-decoder network
    if key.startswith("encoder.initial_block."):
        return "encoder.stem.0." + key.removeprefix("encoder.initial_block.")
    match = re.match(r"encoder\.layers\.(\d+)\.(.+)", key)
    if match:
        index, rest = int(match.group(1)), match.group(2)
        if index < _N_STEM_LAYERS:
            return f"encoder.stem.{index + 1}.{rest}"
        module, _, leaf = rest.partition(".")
        return f"encoder.blocks.{index - _N_STEM_LAYERS}.{_CONV_NAMES.get(module, module)}.{leaf}"
    match = re.match(r"decoders\.([01])\.(.+)", key)
    if match:
        decoder = ("embedding_decoder", "seed_decoder")[int(match.group(1))]
        rest = match.group(2)
        if rest.startswith("output_conv."):
            return f"{decoder}.head.{rest.removeprefix('output_conv.')}"
        layer = re.match(r"layers\.(\d+)\.([^.]+)\.(.+)", rest)
        if layer:
            return f"{decoder}.layers.{layer.group(1)}.{_CONV_NAMES.get(layer.group(2), layer.group(2))}.{layer.group(3)}"
    raise ModelError(f"unexpected tensor {key!r}: not a BPartIS / ImageDataExtractor 2 checkpoint")


def convert_ide2_state_dict(state: dict) -> dict:
    """Map an IDE 2.0.4 BPartIS state_dict to this package's names, checking every shape."""
    from .erfnet import BPartISNet

    if not isinstance(state, dict) or not state:
        raise ModelError("checkpoint is not a state_dict (expected a mapping of tensor names)")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}  # saved from DataParallel
    expected = BPartISNet().state_dict()
    converted = {}
    for key, tensor in state.items():
        new_key = _rename(key)
        if new_key is None:
            continue
        if new_key not in expected:
            raise ModelError(f"unexpected tensor {key!r}: not a BPartIS / ImageDataExtractor 2 checkpoint")
        if tuple(tensor.shape) != tuple(expected[new_key].shape):
            raise ModelError(f"tensor {key!r} has shape {tuple(tensor.shape)}, expected {tuple(expected[new_key].shape)}")
        converted[new_key] = tensor
    missing = sorted(set(expected) - set(converted))
    if missing:
        raise ModelError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[0]!r}")
    return converted


def import_ide2_checkpoint(path: str | Path, out_dir: str | Path, *, name: str | None = None) -> ModelBundle:
    """Convert the checkpoint at ``path`` into a bundle in ``out_dir`` with IDE 2.0.4's settings."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, foreign pickle, ...
        first_line = next(iter(str(exc).splitlines()), "")
        raise ModelError(f"{path}: cannot read checkpoint ({type(exc).__name__}{': ' + first_line if first_line else ''})") from None
    converted = convert_ide2_state_dict(state)
    config = {
        "name": name or Path(out_dir).name,
        "version": "imported",
        "source": f"imported from {path.name} (ImageDataExtractor 2 / BPartIS format)",
        **IDE2_DEFAULTS,
    }
    return write_bundle(converted, out_dir, config)
