"""The shape of the code a new contributor meets, as figures anyone can recompute.

    python benchmarks/code_shape.py            # this checkout
    python benchmarks/code_shape.py --root DIR # another one (e.g. an older commit's worktree)

Loading a policy (`from policy import Policy` in a fresh interpreter): how many modules it loads, and
whether the physics engine, gymnasium, Ray or the simulator are among them.
Import cycles between the project's modules (every import statement, at module level or inside a
function). The README's length, the largest function, functions over 80 lines, files over 400 lines,
and the share of public functions and classes with a docstring.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Older checkouts have no `policy.Policy`: the same class from its module.
LOAD_POLICY = "try:\n    from policy import Policy\nexcept ImportError:\n    from policy.policy import Policy"
PACKAGES = ("tasks", "robot", "sim", "data_collection", "policy", "evaluation", "deploy", "conf")


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            out[name] = path
    return out


def import_cycles(root: Path) -> list[list[str]]:
    """Strongly connected components of more than one module in the import graph (Tarjan)."""
    mods = modules(root)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges[name].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in mods:
        if v not in index:
            visit(v)
    return cycles


def policy_imports(root: Path) -> dict[str, int]:
    """Modules loaded by `from policy import Policy` in a fresh interpreter, by top-level package."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", LOAD_POLICY + "\nimport sys\nprint(sorted(sys.modules))"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    names = [
        line.split("|")[2].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    ]
    # PyBullet is imported with the output silenced (its banner), which hides its importtime line too.
    names = sorted(
        set(names)
        | set(ast.literal_eval(done.stdout.strip().splitlines()[-1])) - set(sys.builtin_module_names)
    )
    tops = [n.split(".")[0] for n in names]
    return {"all": len(names), **{t: tops.count(t) for t in ("pybullet", "gymnasium", "ray", "sim", "robot")}}


def functions(root: Path) -> tuple[list[tuple[int, str]], int, int, list[tuple[int, str]]]:
    """(lines, name) of every function, public functions/classes with and without a docstring, and
    (lines, path) of every module."""
    sizes, documented, public, files = [], 0, 0, []
    for name, path in modules(root).items():
        text = path.read_text()
        files.append((len(text.splitlines()), str(path.relative_to(root))))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                sizes.append((node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                public += 1
                documented += bool(ast.get_docstring(node))
    return sorted(sizes, reverse=True), documented, public, sorted(files, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    root = parser.parse_args().root.resolve()
    loaded = policy_imports(root)
    cycles = import_cycles(root)
    sizes, documented, public, files = functions(root)
    table = Table(title=f"code shape of {root}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("modules loaded by `from policy import Policy`", str(loaded["all"]))
    for top in ("pybullet", "gymnasium", "ray", "sim", "robot"):
        table.add_row(f"  of them from {top}", str(loaded[top]))
    table.add_row("import cycles between project modules", str(len(cycles)))
    table.add_row("README lines", str(len((root / "README.md").read_text().splitlines())))
    table.add_row("largest function", f"{sizes[0][1]}: {sizes[0][0]} lines")
    table.add_row("functions over 80 lines", str(sum(n > 80 for n, _ in sizes)))
    table.add_row("largest file", f"{files[0][1]}: {files[0][0]} lines")
    table.add_row("public functions and classes with a docstring", f"{documented / public:.0%} of {public}")
    console = Console()
    console.print(table)
    for cycle in cycles:
        console.print("cycle: " + " <-> ".join(cycle))


if __name__ == "__main__":
    main()
