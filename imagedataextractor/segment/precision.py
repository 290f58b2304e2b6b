"""Which arithmetic BPartIS runs in when the user does not say (``precision="auto"``). Torch-free:
decided from the CPU's flags, so configurations can name it without importing a network."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

#: The values a BPartIS precision setting takes; "auto" is resolved by :func:`resolve_precision`.
PRECISION_CHOICES = ("auto", "fp32", "bf16")

#: /proc/cpuinfo flags of native bfloat16 arithmetic (AVX512-BF16, AMX). Without them oneDNN
#: emulates bf16, which measured 2-3x slower than fp32 on an AVX512 CPU without them (BENCHMARKS.md).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@lru_cache(maxsize=4)
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags of the first processor in ``cpuinfo`` (Linux x86); empty where the file
    or its ``flags`` line is missing (other systems: then "auto" means fp32)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def resolve_precision(precision: str, device: str = "cpu", flags: frozenset[str] | None = None) -> str:
    """The precision ("fp32" or "bf16") to run for a setting of :data:`PRECISION_CHOICES` on ``device``.

    "auto": bf16 on a CPU with native bf16 arithmetic (:data:`NATIVE_BF16_FLAGS` among ``flags``,
    default: :func:`cpu_flags`), fp32 on other CPUs and on GPUs. An explicit "fp32"/"bf16" is kept.
    """
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, not {precision!r}")
    if precision != "auto":
        return precision
    if not device.startswith("cpu"):
        return "fp32"
    return "bf16" if NATIVE_BF16_FLAGS & (cpu_flags() if flags is None else flags) else "fp32"
