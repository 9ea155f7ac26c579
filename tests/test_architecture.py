"""The layout of docs/architecture.md, checked from the code's own imports: each package
imports only the packages the table allows, and every module of gpufin/ imports at its top."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted((ROOT / "gpufin").rglob("*.py"))

# package -> the gpufin packages it may import (docs/architecture.md, "The packages")
ALLOWED = {
    "errors": set(),
    "version": set(),
    "lazy": set(),
    "spec": {"errors"},
    "market": {"errors", "spec", "lazy"},
    "models": {"errors", "spec", "market"},
    "instruments": {"errors", "spec"},
    "engines": {"errors", "spec", "market", "models", "instruments", "lazy"},
    "credit": {"errors", "spec", "market", "models", "engines"},
    "risk": {"errors", "spec", "market", "engines", "credit", "output"},
    "output": {"errors", "lazy"},
    "portfolio": {"errors", "version", "lazy", "spec", "market", "engines", "risk", "output"},
    "workflows": {"errors", "spec", "models", "engines", "output"},
    "report": {"errors", "version", "spec", "market", "models", "engines", "credit", "risk", "portfolio",
               "output"},
    "loanbook": {"errors", "version", "spec", "market", "models", "engines", "portfolio", "output"},
    "hedge": {"errors", "spec", "market", "models", "instruments", "engines", "output"},
}


def _package(module: str) -> str:
    """gpufin.engines.loan -> engines; gpufin.errors -> errors."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path):
    """(imported gpufin module, line, at the top?) for every import statement of a file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, node.lineno, id(node) in top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top


def _name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def test_every_package_is_in_the_table():
    packages = {_package(_name(p)) for p in MODULES} - {"__init__"}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
    own = _package(_name(path))
    if own == "__init__":
        return                          # the public API re-exports from every package
    for module, line, _ in _imports(path):
        if module.startswith("gpufin.") or module == "gpufin":
            target = _package(module)
            assert target == own or target in ALLOWED[own], (
                f"{path.relative_to(ROOT)}:{line} imports {module}: {own} may import "
                f"{sorted(ALLOWED[own]) or 'no other package'}")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_at_the_top(path):
    inner = [f"line {line}: {module}" for module, line, at_top in _imports(path) if not at_top]
    assert not inner, f"{path.relative_to(ROOT)} imports inside a function: {inner}"
