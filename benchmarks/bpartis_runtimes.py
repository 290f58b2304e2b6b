"""BPartIS's per-sample part (the encoder after the stem and both decoders, reduced over a batch of MC
samples) in PyTorch eager and in ONNX Runtime / OpenVINO when installed, under the same dropout
masks, in one run: seconds per batch and the largest difference of the outputs.

    python benchmarks/bpartis_runtimes.py [--batches 5] [--batch 3] [--threads 2] [--precision fp32]

The dropout masks are inputs of the exported graph (``fixed_dropout_masks``), drawn once per batch
as a per-image run draws them, so every runtime computes the same samples and their outputs
compare exactly. Needs ``pip install onnx onnxruntime`` (and ``openvino``) for the other rows; the
timed batches are interleaved (eager, ONNX Runtime, OpenVINO, eager, ...). Reported in BENCHMARKS.md
("Faster defaults").
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from imagedataextractor.datasets import default_emps_dir, load_split
from imagedataextractor.segment.predict import (
    draw_dropout_masks,
    dropout_layers,
    fixed_dropout_masks,
    get_bpartis,
    to_input,
)


class PerSample(nn.Module):
    """(stem features, stem residual, dropout masks...) -> (feature sum, logit sum, probability sum,
    entropy sum) of one batch of MC samples, the masks applied by the hooks of ``fixed_dropout_masks``."""

    def __init__(self, network: nn.Module, current: list[torch.Tensor]) -> None:
        super().__init__()
        self.network, self.current = network, current

    def forward(self, features: torch.Tensor, residual: torch.Tensor, *masks: torch.Tensor) -> tuple[torch.Tensor, ...]:
        from imagedataextractor.segment.erfnet import Stem

        self.current[:] = masks
        count = masks[0].shape[0]
        encoded = self.network.encode(Stem(features.expand(count, -1, -1, -1), residual.expand(count, -1, -1, -1)))
        return (self.network.embedding_decoder.layers(encoded).float().sum(0), *self.network.seed_statistics(encoded))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="fp32", choices=("fp32",))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = get_bpartis()
    network = model.inference_network(args.precision)
    image = load_split(default_emps_dir(), "test")[0].load()[0]
    x = to_input(image, 512).contiguous(memory_format=torch.channels_last)
    masks = draw_dropout_masks(network, args.batch * args.batches, seed=0, batch_size=args.batch, flips=False)
    with torch.inference_mode():
        stem = network.stem(x)
    inputs = [stem.features.contiguous(), stem.residual.contiguous()]
    names = ["features", "residual", *(f"mask{i}" for i in range(len(dropout_layers(network))))]
    runs: dict[str, object] = {}
    with fixed_dropout_masks(network) as current, torch.inference_mode():
        per_sample = PerSample(network, current).eval()
        runs["pytorch eager"] = lambda batch: [t.numpy() for t in per_sample(*inputs, *masks[batch])]
        onnx_path = Path(tempfile.mkdtemp()) / "bpartis_per_sample.onnx"
        if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
            torch.onnx.export(per_sample, (*inputs, *masks[0]), str(onnx_path), input_names=names, dynamo=False, opset_version=17)
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = args.threads
            session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
            runs["onnxruntime"] = lambda batch: session.run(None, dict(zip(names, [t.numpy() for t in (*inputs, *masks[batch])])))
            if importlib.util.find_spec("openvino"):
                import openvino

                compiled = openvino.Core().compile_model(str(onnx_path), "CPU", {"INFERENCE_NUM_THREADS": args.threads})
                runs["openvino"] = lambda batch: [compiled(dict(zip(names, [t.numpy() for t in (*inputs, *masks[batch])])))[i]
                                                  for i in range(4)]
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        outputs: dict[str, list] = {name: [] for name in runs}
        for run in runs.values():
            run(0)  # warm-up
        for batch in range(args.batches):
            for name, run in runs.items():
                started = time.perf_counter()
                outputs[name].append(run(batch))
                seconds[name].append(time.perf_counter() - started)
    reference = statistics.median(seconds["pytorch eager"])
    print(f"per-sample part, batches of {args.batch} MC samples at 512 px, {args.precision}, {args.threads} threads, torch {torch.__version__}")
    print("| runtime | s/batch (median) | speed-up | max abs difference from eager |")
    print("|---|---|---|---|")
    for name in runs:
        difference = max(float(abs(a - b).max()) for got, want in zip(outputs[name], outputs["pytorch eager"]) for a, b in zip(got, want))
        median = statistics.median(seconds[name])
        print(f"| {name} | {median:.3f} | {reference / median:.2f}x | {difference:.2e} |")


if __name__ == "__main__":
    main()
