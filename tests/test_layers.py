"""The import graph of ``qcdgen`` points downward only (docs/ARCHITECTURE.md, "Layers").

The checker reads the source with :mod:`ast` (nothing is imported), so it sees every import,
including the lazy ones inside functions. Two rules:

1. **layers**: a module imports only from its own layer or the layers below it::

       top      cli/ report/ demo/ __main__     what a person touches
       domain   lattice/ hic/ inverse/          physics
       engine   diffusion/ flows/ mcmc/ nn/ train/ inference/
       base     stats/ io/ and the top-level modules (errors, runtime, checks, jsonutil)

2. **private names**: a name beginning with one underscore (a module ``_text`` or a function
   ``_pull``) belongs to the package that holds it; only modules inside that package (or its
   subpackages) import it. What another package needs is made public.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "qcdgen"

#: layer of each top-level subpackage or module of qcdgen; anything not listed is "base"
LAYERS = {
    "cli": 3, "report": 3, "demo": 3, "__main__": 3,
    "lattice": 2, "hic": 2, "inverse": 2,
    "diffusion": 1, "flows": 1, "mcmc": 1, "nn": 1, "train": 1, "inference": 1,
}
LAYER_NAMES = {3: "cli/report/demo", 2: "domain", 1: "engine", 0: "base"}


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def layer_of(module: str, package: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if parts[0] == package and len(parts) > 1 else 0


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module name of ``from <node.module> import ...`` written in ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, module: str) -> list[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, path.name == "__init__.py")
            out += [(node.lineno, target, alias.name) for alias in node.names]
    return out


def find_violations(root: Path, package: str = "qcdgen") -> list[str]:
    """Every upward import and every import of another package's private name under ``root``.

    ``root`` is the package directory (``src/qcdgen``); each violation is one line
    ``path:line: importer -> imported (why)``."""
    root = Path(root)
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root, package)
        mine = layer_of(module, package)
        for line, target, name in imports_of(path, module):
            if target.split(".")[0] != package:
                continue
            full = f"{target}.{name}" if name and name != "*" else target
            # ``from qcdgen import cli`` imports the subpackage cli
            theirs = layer_of(full if target == package else target, package)
            where = f"{path.relative_to(root.parent)}:{line}: {module} -> {full}"
            if theirs > mine:
                problems.append(f"{where} (upward: {LAYER_NAMES[mine]} imports {LAYER_NAMES[theirs]})")
            owner = private_owner(root, package, target, name)
            if owner is not None and not (module == owner or module.startswith(owner + ".")):
                problems.append(f"{where} (private name of {owner})")
    return problems


def private_owner(root: Path, package: str, target: str, name: str | None) -> str | None:
    """The package owning the first private component of ``target[.name]``, or None if all are public.

    ``qcdgen.stats._validate`` -> ``qcdgen.stats``; ``qcdgen.stats.compare._pull`` -> ``qcdgen.stats``
    (a private name defined in a module belongs to that module's package)."""
    parts = target.split(".") + ([name] if name and name != "*" else [])
    if parts[0] != package:
        return None
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = parts[:i]
            holder = root.joinpath(*owner[1:])
            if not holder.is_dir() and len(owner) > 1:  # a private name defined in a module
                owner = owner[:-1]
            return ".".join(owner)
    return None


# --------------------------------------------------------------------------- the real tree

def test_real_tree_has_no_upward_or_private_imports():
    problems = find_violations(SRC)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the checker itself

def _plant(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "qcdgen"
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for d in [pkg, *[p for p in pkg.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()
    return pkg


CLEAN = {
    "stats/compare.py": "import math\n\ndef _pull(a, b):\n    return a - b\n\ndef pull(a, b):\n    return _pull(a, b)\n",
    "stats/table.py": "from qcdgen.stats.compare import _pull\n",          # same package: allowed
    "hic/_random.py": "def draw():\n    pass\n",
    "hic/gen/decays.py": "from qcdgen.hic._random import draw\n",          # subpackage of the owner: allowed
    "mcmc/hmc.py": "from qcdgen.stats.compare import pull\n",
    "hic/validate.py": "from qcdgen.stats.compare import pull\nfrom qcdgen.mcmc import hmc\n",
    "report/plots.py": "from qcdgen.hic.validate import pull\n",
    "cli/main.py": "def run():\n    from qcdgen.report import plots\n    from . import helpers\n",
    "cli/helpers.py": "from ..hic import validate\n",
    "checks.py": "from qcdgen.errors import InputError\n",
    "errors.py": "class InputError(ValueError):\n    pass\n",
}


def test_checker_passes_a_clean_tree(tmp_path):
    assert find_violations(_plant(tmp_path, CLEAN)) == []


@pytest.mark.parametrize("rel, text, expect", [
    ("hic/validate.py", "def run():\n    from qcdgen.report.plots import figure\n", "upward: domain imports cli/report/demo"),
    ("inverse/tov.py", "from qcdgen import cli\n", "upward: domain imports cli/report/demo"),
    ("lattice/x.py", "import qcdgen.demo.lattice\n", "upward: domain imports cli/report/demo"),
    ("mcmc/hmc.py", "from qcdgen.hic.validate import pull\n", "upward: engine imports domain"),
    ("diffusion/sde.py", "from ..cli import main\n", "upward: engine imports cli/report/demo"),
    ("stats/compare.py", "from qcdgen.flows import model\n", "upward: base imports engine"),
    ("io/files.py", "from qcdgen.lattice import x\n", "upward: base imports domain"),
    ("checks.py", "from qcdgen.report import plots\n", "upward: base imports cli/report/demo"),
    ("lattice/x.py", "from qcdgen.stats._validate import check\n", "private name of qcdgen.stats"),
    ("hic/validate.py", "from qcdgen.stats.compare import _pull\n", "private name of qcdgen.stats"),
    ("report/html.py", "from qcdgen.hic import _random\n", "private name of qcdgen.hic"),
    ("inverse/x.py", "import qcdgen.hic._random\n", "private name of qcdgen.hic"),
])
def test_checker_fails_on_a_planted_violation(tmp_path, rel, text, expect):
    files = dict(CLEAN)
    files[rel] = files.get(rel, "") + text
    problems = find_violations(_plant(tmp_path, files))
    assert len(problems) == 1, problems
    assert expect in problems[0] and rel in problems[0]
