"""``precision="auto"``: bf16 only where the CPU has native bf16 arithmetic, and the result says which."""

import numpy as np
import pytest

from imagedataextractor.segment.precision import cpu_flags, resolve_precision

ICE_LAKE = frozenset({"avx512f", "avx512bw", "avx512_vnni"})
SAPPHIRE_RAPIDS = ICE_LAKE | {"avx512_bf16", "amx_bf16", "amx_tile"}


def test_auto_picks_bf16_only_with_native_bf16_flags():
    assert resolve_precision("auto", flags=ICE_LAKE) == "fp32"
    assert resolve_precision("auto", flags=SAPPHIRE_RAPIDS) == "bf16"
    assert resolve_precision("auto", flags=frozenset({"avx512_bf16"})) == "bf16"
    assert resolve_precision("auto", flags=frozenset()) == "fp32"


def test_explicit_precision_overrides_and_gpus_get_fp32():
    assert resolve_precision("bf16", flags=ICE_LAKE) == "bf16"
    assert resolve_precision("fp32", flags=SAPPHIRE_RAPIDS) == "fp32"
    assert resolve_precision("auto", "cuda:0", flags=SAPPHIRE_RAPIDS) == "fp32"
    with pytest.raises(ValueError, match="fp16"):
        resolve_precision("fp16")


def test_cpu_flags_are_read_from_the_first_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx512f", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_segmentation_states_the_precision_it_ran_in():
    from imagedataextractor.segment.predict import BPartISConfig, get_bpartis

    model = get_bpartis()
    image = np.full((64, 64, 3), 40, np.uint8)
    automatic = model.segment(image, BPartISConfig(mode="discriminative"))
    assert automatic.details["precision"] == resolve_precision("auto") == model.precision(BPartISConfig())
    assert model.segment(image, BPartISConfig(mode="discriminative", precision="bf16")).details["precision"] == "bf16"
