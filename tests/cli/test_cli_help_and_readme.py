"""Every command and option of ``ide`` explains itself in ``--help`` and is shown in README.md's usage."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from imagedataextractor.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(main))
LEAVES = [(path, command) for path, command in COMMANDS if not isinstance(command, click.Group) or not path]


def _usage_entries() -> dict[tuple[str, ...], str]:
    """README's usage lines, by command path: a line ``ide <command> ...`` in an indented block and
    the lines continuing it (indented further), joined; lines naming no command are the root's."""
    paths = sorted((path for path, _ in COMMANDS if path), key=len, reverse=True)
    entries: dict[tuple[str, ...], str] = {}
    current: tuple[str, ...] | None = None
    start = 0
    for line in README.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if line.startswith("    ") and stripped.startswith("ide "):
            words = stripped.split()[1:]
            current = next((p for p in paths if tuple(words[: len(p)]) == p), ())
            start = indent
            entries[current] = entries.get(current, "") + " " + stripped
        elif current is not None and stripped and indent > start:
            entries[current] += " " + stripped
        else:
            current = None
    return entries


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_every_command_and_option_has_help(path, command):
    assert (command.help or command.short_help or "").strip(), f"ide {' '.join(path)}: no help text"
    undocumented = [param.opts[0] for param in command.params if isinstance(param, click.Option) and not (param.help or "").strip()]
    assert undocumented == [], f"ide {' '.join(path)}: options without help"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=lambda value: " ".join(value) or "ide" if isinstance(value, tuple) else "")
def test_every_command_and_option_appears_in_the_readme_usage(path, command):
    entries = _usage_entries()
    assert path in entries, f"README.md shows no usage line 'ide {' '.join(path)} ...'"
    missing = []
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        names = [name for name in (*param.opts, *param.secondary_opts)]
        if not any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", entries[path]) for name in names):
            missing.append("/".join(names))
    assert missing == [], f"ide {' '.join(path)}: options missing from README.md's usage"
