"""The package's shape: imports flow one way (no circle, no module importing another's private
names), torch loads only where a network runs, and settings are checked when they are made."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "imagedataextractor"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(module: str) -> list[tuple[str, str | None, bool]]:
    """(imported module, imported name or None, whether the import is under ``if TYPE_CHECKING``)
    for every import of the package's own modules in ``module``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                   for statement in block.body for node in ast.walk(statement)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "imagedataextractor":
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:
                    found.append((submodule, None, id(node) in typing_only))
                else:
                    found.append((target, alias.name, id(node) in typing_only))
        elif isinstance(node, ast.Import):
            found += [(alias.name, None, id(node) in typing_only) for alias in node.names if alias.name.startswith("imagedataextractor.")]
    return found


def test_no_module_imports_another_modules_private_names():
    offences = []
    for module in MODULES:
        for target, name, _typing in _imports(module):
            private_module = next((part for part in target.split(".") if part.startswith("_") and not part.startswith("__")), None)
            if name is not None and name.startswith("_") and not name.startswith("__") and target != module:
                offences.append(f"{module} imports {target}.{name}")
            elif private_module and not (module + ".").startswith(target.rpartition(".")[0] + "."):
                offences.append(f"{module} imports the private module {target}")  # only its own package may
    assert offences == []


def test_no_import_circle():
    """Module-level and deferred (in-function) imports count; those only for type checkers do not.
    A package's ``__init__`` re-exporting its modules is not a circle with them."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module in MODULES:
        for target, _name, typing_only in _imports(module):
            if typing_only or target not in MODULES or target == module:
                continue
            if MODULES[target].name == "__init__.py" and module.startswith(target + "."):
                continue  # a module importing its own package's re-exports
            graph[module].add(target)
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize("module", ["imagedataextractor.pipeline", "imagedataextractor.settings", "imagedataextractor.persistence",
                                    "imagedataextractor.literature", "imagedataextractor.segment", "imagedataextractor.cli"])
def test_importing_the_runner_and_settings_does_not_import_torch(module):
    code = f"import sys, {module}; loaded = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]; assert not loaded, loaded"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_watershed_extraction_runs_without_torch():
    code = (
        "import sys, numpy as np; from imagedataextractor.pipeline import extract; "
        "image = np.full((96, 96), 40, np.uint8); image[30:60, 30:60] = 220; "
        "[r] = extract(image, method='watershed', split=False, scalebar=False, mask_labels=False); "
        "assert r.status == 'done', r.reason; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_method_names_are_the_ones_segment_dispatches_on():
    from imagedataextractor.segment.baselines import BASELINES
    from imagedataextractor.segment.config import BPARTIS_MODES, METHODS
    from imagedataextractor.segment.learned import LEARNED

    assert METHODS == (*BPARTIS_MODES, *BASELINES, *LEARNED, "maskrcnn")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "kmeans"}, r"^settings\.method='kmeans': choose from bpartis, "),
        ({"split": "yes"}, r"^settings\.split='yes': must be True or False$"),
        ({"bpartis": {"n_samples": 0}}, r"^settings\.bpartis\.n_samples=0: must be a whole number, at least 1$"),
        ({"bpartis": {"tu": -1.0}}, r"^settings\.bpartis\.tu=-1\.0: "),
        ({"bpartis": {"precision": "fp16"}}, r"^settings\.bpartis\.precision='fp16': choose from auto, fp32, bf16$"),
        ({"bpartis": {"device": "tpu"}}, r"^settings\.bpartis\.device='tpu': use cpu, cuda or cuda:N$"),
        ({"measure": {"aspect_ratio": "box"}}, r"^settings\.measure\.aspect_ratio='box': choose from feret, ellipse$"),
        ({"split_config": {"min_panel_px": -1}}, r"^settings\.split_config\.min_panel_px=-1: must be >= 0$"),
    ],
)
def test_bad_settings_are_refused_when_made_naming_the_field(changes, message):
    from imagedataextractor.errors import IDEError, SettingsError
    from imagedataextractor.figsplit import SplitConfig
    from imagedataextractor.measure.types import MeasureConfig
    from imagedataextractor.segment.config import BPartISConfig
    from imagedataextractor.settings import ExtractSettings

    kinds = {"bpartis": BPartISConfig, "measure": MeasureConfig, "split_config": SplitConfig}
    values = {name: kinds[name](**value) if isinstance(value, dict) else value for name, value in changes.items()}
    with pytest.raises(SettingsError, match=message) as caught:
        ExtractSettings(**values)
    assert isinstance(caught.value, IDEError) and "\n" not in str(caught.value)


def test_settings_key_names_what_changes_results():
    from dataclasses import replace

    from imagedataextractor.measure.types import MeasureConfig
    from imagedataextractor.segment.config import BPartISConfig
    from imagedataextractor.settings import ExtractSettings

    default = ExtractSettings()
    assert len(default.key()) == 12 and default.key() == ExtractSettings().key()
    assert replace(default, bpartis=BPartISConfig(device="cuda", compile=True)).key() == default.key()  # where it runs: same results
    assert replace(default, bpartis=BPartISConfig(seed=1)).key() != default.key()
    assert replace(default, measure=MeasureConfig(include_border=True)).key() != default.key()
    assert ExtractSettings(method="watershed", bpartis=BPartISConfig(seed=1)).key() == ExtractSettings(method="watershed").key()
