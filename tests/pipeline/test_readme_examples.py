"""The README's examples run as written, on the bundled example figure.

Code blocks are taken from README.md by content, so other edits of the README do not break the
tests: indented or fenced blocks whose first line imports something are Python; lines of shell
blocks (split at ``&&``) that start with ``ide extract examples/`` are the literal CLI examples.
The fast tests run them with the watershed method (BPartIS on CPU takes minutes): the Python block
that calls ``imagedataextractor.extract`` with ``extract``'s ``method`` defaulting to "watershed"
(unless the block names a method), the CLI lines with ``--method watershed`` added. The slow tests
run every Python block and CLI line exactly as written.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import imagedataextractor
from imagedataextractor.cli import main

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def code_blocks(text: str) -> list[str]:
    """Markdown code blocks: fenced (```...```) and indented (4 spaces, after a blank line), dedented."""
    blocks = [match.group(1) for match in re.finditer(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)]
    current: list[str] = []
    previous_blank = True
    in_fence = False
    for line in [*text.splitlines(), ""]:
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and (line.startswith("    ") or (current and not line.strip())):
            if current or previous_blank:
                current.append(line[4:])
        elif current:
            blocks.append("\n".join(current).rstrip() + "\n")
            current = []
        previous_blank = not line.strip()
    if current:
        blocks.append("\n".join(current).rstrip() + "\n")
    return blocks


def python_blocks() -> list[str]:
    return [block for block in code_blocks(README.read_text(encoding="utf-8")) if re.match(r"(import|from)\s", block)]


def extract_blocks() -> list[str]:
    blocks = [block for block in python_blocks() if "imagedataextractor.extract(" in block]
    assert blocks, "README.md shows no Python example calling imagedataextractor.extract"
    return blocks


def cli_extract_lines() -> list[list[str]]:
    """``ide extract examples/...`` commands of the README's shell blocks, as argument lists (no "ide")."""
    commands = []
    for block in code_blocks(README.read_text(encoding="utf-8")):
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.split("#")[0].strip()
                if part.startswith("ide extract examples/"):
                    commands.append(shlex.split(part)[1:])
    assert commands, "README.md shows no literal 'ide extract examples/...' command"
    return commands


@pytest.fixture
def in_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the repository's examples/ (the README's paths are relative)."""
    (tmp_path / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_block(block: str) -> str:
    """Execute a README block as a script; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block, str(README), "exec"), {"__name__": "readme_example"})
    return printed.getvalue()


def test_readme_python_extract_example(in_sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from imagedataextractor.pipeline import extract

    calls: list[list] = []

    @functools.wraps(extract)
    def watershed_extract(*args, method: str = "watershed", **kwargs):
        results = extract(*args, method=method, **kwargs)
        calls.append(results)
        return results

    monkeypatch.setattr(imagedataextractor, "extract", watershed_extract)
    for block in extract_blocks():
        printed = run_block(block)
        assert calls, "the README example did not call imagedataextractor.extract"
        results = calls[-1]
        assert [r.status for r in results] == ["done"] * len(results) and len(results) == 2  # the demo's two EM panels
        assert all(r.nm_per_px is not None and len(r.particles) > 0 for r in results)
        for result in results:
            assert result.name in printed  # the loop printed one line per result
        if "save(" in block:
            saved = {p.name for p in (in_sandbox / "ide-out" / results[0].name).iterdir()}
            assert {"particles.csv", "summary.json", "overlay.png", "size_histogram.png", "rdf.png"} <= saved
        if "db=" in block:
            assert any(in_sandbox.glob("*.sqlite"))


def test_readme_cli_extract_example(in_sandbox: Path) -> None:
    for args in cli_extract_lines():
        result = CliRunner().invoke(main, [*args, "--method", "watershed"])
        assert result.exit_code == 0, result.output
        assert "2 measured, 0 skipped, 0 failed" in result.output and " nm" in result.output


@pytest.mark.slow
def test_readme_python_blocks_as_written(in_sandbox: Path) -> None:
    for block in python_blocks():
        run_block(block)


@pytest.mark.slow
def test_readme_cli_extract_example_as_written(in_sandbox: Path) -> None:
    for args in cli_extract_lines():
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "2 measured, 0 skipped, 0 failed" in result.output
