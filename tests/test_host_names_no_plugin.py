"""The host names no built-in plugin: every method, metric and dataset is found through the registry.

Scans every string literal (docstrings excepted) under ``rrgbench/`` for a registered plugin name. The few
places where such a string means something else are listed with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

from rrgbench.plugins import get_host

ROOT = Path(__file__).resolve().parent.parent / "rrgbench"

# (file relative to rrgbench/, string) -> why that string is not a reference to the plugin of that name
ALLOWED: dict[tuple[str, str], str] = {
    ("clinical/__init__.py", "chexpert_rules"): "the default labeler (registered by the chexpert_rules plugin)",
    ("clinical/rules.py", "chexpert_rules"): "the rule labeler's own name",
    ("clinical/chexbert.py", "chexbert"): "the CheXbert labeler's own name and weights folder",
    ("commands/label.py", "chexpert_rules"): "`rrgbench label`'s default labeler",
    ("clinical/ce.py", "r2gen"): "a CE preset named after the R2Gen paper's protocol",
    ("clinical/radcliq.py", "bertscore"): "a column name of the upstream RadCliQ model",
    ("env.py", "radgraph"): "the PyPI package recorded in the environment",
    ("cache_clean.py", "radgraph"): "the RadGraph metric's label-cache name (its module is hashed into its "
                                    "score signature, so it cannot declare Metric.label_caches without "
                                    "changing every stored signature)",
    ("cache_clean.py", "umls"): "the UMLS metric's label-cache name (same reason)",
    ("commands/sensitivity.py", "iu_xray_phantom"): "the sensitivity suite's default dataset (open an issue to "
                                                     "make it a dataset-declared default)",
}


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs]


def test_no_host_module_names_a_built_in_plugin() -> None:
    host = get_host()
    names = {*host.methods.names(), *host.metrics.names(), *host.datasets.names()}
    assert {"nlg", "majority", "synthetic"} <= names  # the scan looks for real names
    found = [f"rrgbench/{path.relative_to(ROOT)}:{line}: '{text}'"
             for path in sorted(ROOT.rglob("*.py")) for line, text in _strings(path)
             if text in names and (path.relative_to(ROOT).as_posix(), text) not in ALLOWED]
    assert not found, "host modules name built-in plugins (use the registry or the plugin's declared facts):\n" + \
        "\n".join(found)


# host modules that import the built-in plugin package, and why
IMPORTS_BUILT_INS: dict[str, str] = {}


def test_no_host_module_imports_the_built_in_plugins() -> None:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "rrgbench_plugins" for n in names) and \
                    path.relative_to(ROOT).as_posix() not in IMPORTS_BUILT_INS:
                found.append(f"rrgbench/{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, "host modules import the built-in plugins:\n" + "\n".join(found)


def test_the_allowed_list_has_no_stale_entries() -> None:
    present = {(path.relative_to(ROOT).as_posix(), text) for path in ROOT.rglob("*.py") for _, text in _strings(path)}
    assert not sorted(set(ALLOWED) - present)
