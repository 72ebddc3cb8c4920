"""The shape of the code base: imports inside the package point down (never into a package's ``__init__``),
no function in the package runs over 60 lines, and no script edits ``sys.path``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rqi_loss"
MAX_FUNCTION_LINES = 60
SYS_PATH_EDITS = tuple("sys.path." + verb for verb in ("insert", "append", "extend"))  # spelt so as not to match here


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def is_module(package: Path, name: str) -> bool:
    return (package / f"{name}.py").is_file() or (package / name / "__init__.py").is_file()


def upward_imports(path: Path) -> list[str]:
    """Imports in ``path`` that take a name from a package's ``__init__`` (its own or an ancestor's), or from
    ``rqi_loss`` by absolute name, instead of naming the module that defines it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module is None:
            package = path.parent
            for _ in range(node.level - 1):
                package = package.parent
            found += [f"line {node.lineno}: {alias.name}" for alias in node.names if not is_module(package, alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "rqi_loss":
            found.append(f"line {node.lineno}: absolute import of {node.module}")
    return found


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    if path.name == "__init__.py" and path.parent == PACKAGE:
        return  # the package root gathers the public names
    assert upward_imports(path) == []


def test_the_checker_sees_an_upward_import(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("X = 1\n")
    (package / "sibling.py").write_text("")
    (package / "user.py").write_text("from . import X\nfrom . import sibling\nfrom .sibling import Y\n")
    assert upward_imports(package / "user.py") == ["line 1: X"]


def test_no_function_in_the_package_is_over_60_lines():
    long = []
    for path in package_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_no_script_edits_sys_path():
    folders = ("rqi_loss", "tests", "bench", "examples", "weights", "records")
    edits = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(edit in line for edit in SYS_PATH_EDITS)
    ]
    assert edits == []


def test_the_architecture_page_names_every_module_of_the_package():
    section = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        str(path.relative_to(PACKAGE))
        for path in package_modules()
        if path.name != "__init__.py" and f"`{path.name}`" not in section
    ]
    assert missing == []


def module_level_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Absolute dotted names of what ``path`` (a module under ``root``) imports when it is imported, not inside
    a function or class."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            names.append(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def test_no_network_module_imports_the_weight_io():
    """Networks can be built and run without the Hub client or the file formats; only save_pretrained and
    push_to_hub reach rqi_loss.weights, inside the call."""
    reaching = {
        str(path.relative_to(PACKAGE)): name
        for path in sorted((PACKAGE / "networks").rglob("*.py"))
        for name in module_level_imports(path)
        if name.startswith("rqi_loss.weights") or name.startswith("huggingface_hub")
    }
    assert reaching == {}


def test_the_weight_io_checker_sees_a_module_level_import(tmp_path):
    fake = tmp_path / "rqi_loss" / "networks" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("import torch\nfrom ..weights._hub import HubOptions\n\ndef save():\n    from ..weights import x\n")
    assert module_level_imports(fake, root=tmp_path) == ["torch", "rqi_loss.weights._hub"]


def test_tests_are_laid_out_like_the_package():
    """Test modules live in a folder per part of the package (helpers in tests/helpers); only the project-wide
    checks sit at the top."""
    tests = ROOT / "tests"
    top = sorted(p.name for p in tests.glob("test_*.py"))
    assert top == [
        "test_api.py", "test_docs_site.py", "test_docstring_examples.py", "test_layout.py", "test_shipped_numbers.py",
        "test_wheel.py",
    ]  # fmt: skip
    folders = sorted(p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))
    assert folders == ["basicsr", "examples", "helpers", "hub", "loss", "metric", "networks", "training"]
    assert not list((tests / "helpers").glob("test_*.py"))


def test_one_folder_runs_alone():
    """``pytest tests/metric -m "not slow"`` collects that folder's tests alone (helpers and fixtures found)."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/metric", "-m",
         "not slow"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    collected = [line for line in run.stdout.splitlines() if "::" in line]
    assert collected and all(line.startswith("tests/metric/") for line in collected)
