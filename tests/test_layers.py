"""The packages of lib/ import one way: tools -> bench -> inference, deploy -> core, models,
datasets -> config -> utils (README "Layout")."""

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lib"
BELOW = {
    "utils": set(),
    "config": {"utils"},
    "datatools": {"utils"},
    "datasets": {"config", "utils"},
    "models": {"config", "utils"},
    "core": {"config", "datasets", "models", "utils"},
    "inference": {"config", "core", "datasets", "models", "utils"},
    "deploy": {"config", "core", "datasets", "inference", "models", "utils"},
    "bench": {"config", "core", "datasets", "deploy", "inference", "models", "utils"},
}
# The panorama fork's users write `from utils.inference import batch_inference`.
COMPATIBILITY = {("utils/inference.py", "inference")}


def imported_packages(path):
    """The top-level names `path` imports (absolute imports, at any depth of the file)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_every_package_of_lib_has_a_layer():
    packages = {p.name for p in LIB.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(BELOW)


def test_packages_import_only_the_layers_below_them():
    wrong = []
    for path in sorted(LIB.rglob("*.py")):
        relative = path.relative_to(LIB).as_posix()
        package = relative.split("/")[0]
        for name in set(imported_packages(path)):
            if name in BELOW and name != package and name not in BELOW[package]:
                if (relative, name) not in COMPATIBILITY:
                    wrong.append(f"{relative} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_compatibility_module_only_re_exports_the_forks_functions():
    tree = ast.parse((LIB / "utils" / "inference.py").read_text(encoding="utf-8"))
    statements = [n for n in tree.body if not isinstance(n, ast.Expr)]  # the docstring aside
    imports = [n for n in statements if isinstance(n, ast.ImportFrom)]
    assert [n.module for n in imports] == ["inference"]
    assert {a.name for a in imports[0].names} == {
        "batch_inference",
        "inference",
        "single_image_inference",
    }
    assert all(isinstance(n, ast.ImportFrom | ast.Assign) for n in statements)
