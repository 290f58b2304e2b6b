"""Which label readings are accepted: real labels are read, micrograph texture is not taken for one."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagedataextractor.figsplit import SplitConfig, split_figure
from imagedataextractor.figsplit.labels import _STROKE_MIN_CONFIDENCE, _UNIFORM_CNR, _accepted
from imagedataextractor.imageio import read_image

# EMPS figures as the demo corpus serves them (high-resolution JPEGs).
OBJECTS = Path(__file__).resolve().parents[2] / "corpus" / "demo" / "elsevier" / "object"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("1-s2.0-S1015504212067943-gr6_lrg.jpg", "b"),  # large white "b" on a flat grey patch
        ("1-s2.0-S6933818094249326-gr5_lrg.jpg", "c"),  # white "(c)" on a grainy background, top right
        ("1-s2.0-S6933818094249326-gr1_lrg.jpg", None),  # no label; its mesoporous texture once read as "l"
    ],
)
def test_real_figures(name: str, label: str | None) -> None:
    panels = split_figure(read_image(OBJECTS / name))
    assert [panel.label for panel in panels] == [label]


def test_readings_on_texture_need_a_higher_confidence() -> None:
    config = SplitConfig()
    uniform, cluttered = _UNIFORM_CNR + 1.0, _UNIFORM_CNR - 1.0
    assert _accepted("b", 40.0, uniform, config)
    assert not _accepted("b", 40.0, cluttered, config)
    assert _accepted("b", 85.0, cluttered, config)
    assert not _accepted("b", config.label_min_confidence - 1.0, uniform, config)


@pytest.mark.parametrize("letter", ["i", "j", "l"])
def test_a_lone_stroke_is_a_letter_only_on_a_uniform_patch_with_a_high_confidence(letter: str) -> None:
    config = SplitConfig()
    assert _accepted(letter, _STROKE_MIN_CONFIDENCE, _UNIFORM_CNR, config)
    assert not _accepted(letter, _STROKE_MIN_CONFIDENCE - 5.0, _UNIFORM_CNR + 10.0, config)
    assert not _accepted(letter, 99.0, _UNIFORM_CNR - 0.5, config)
