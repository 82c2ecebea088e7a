"""Layers point down only, and no package reaches into another's private names (README,
"Architecture"). Read from the source with ast: lazy imports inside functions count too."""
import ast
import re

import pytest

from ..conftest import ROOT

TARGET_PACKAGES = sorted(p.name for p in (ROOT / "targets").iterdir() if (p / "__init__.py").exists())
# What each package may import from the toolkit's own packages (a target is "targets.NAME").
MAY_IMPORT = {
    "core": set(),
    "adapters": {"core"},
    "checks": {"core", "adapters"},
    "engine": {"core", "adapters", "checks"},   # the stage move: knows no kind of stack
    "decommission": {"core", "adapters", "checks"},
    "compose_stack": {"core", "adapters"},   # what the targets whose stack is a Compose folder share
    # Each target: above the engine, checks and decommission; never another target.
    **{f"targets.{name}": {"core", "adapters", "checks", "engine", "decommission", "compose_stack"} for name in TARGET_PACKAGES},
    "bench": {"core", "adapters"},
    "alerts": {"core", "adapters"},  # signing, messages, when to send, the sender
    "orchestration": {"core", "adapters", "checks", "engine", "decommission", "alerts"},   # targets through the registry
    "rehearsal": {"core", "adapters", "checks", "engine", "decommission", "orchestration"},
    "sandbox": {"core"},  # the emulators share the Ollama store's layout, nothing else
}
PACKAGES = {name.split(".")[0] for name in MAY_IMPORT} | {"tasks", "targets"}


def unit(module: str) -> str:
    """The layer a dotted module belongs to: its top package, or targets.NAME for a target."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "targets" and len(parts) > 1 else parts[0]


def imports(path):
    """(imported package, imported names or attribute paths, line) of each toolkit import."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in PACKAGES:
                yield unit(node.module), node.module, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in PACKAGES:
                    yield unit(alias.name), alias.name, [], node.lineno


def sources():
    for package in MAY_IMPORT:
        for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
            yield package, path


@pytest.mark.parametrize("package, path", list(sources()), ids=lambda v: str(v).rsplit("/", 2)[-1] if hasattr(v, "name") else v)
def test_layers_point_down_and_privates_stay_home(package, path):
    for top, module, names, line in imports(path):
        where = f"{path.relative_to(ROOT)}:{line}"
        if top != package:
            assert top in MAY_IMPORT[package], f"{where}: {package} may not import {module}"
            private = [n for n in names if n.startswith("_")] + [p for p in module.split(".")[1:] if p.startswith("_")]
            assert not private, f"{where}: imports the private {private} of {top}"


def test_no_production_module_imports_the_sandbox():
    for package, path in sources():
        if package in ("sandbox", "rehearsal"):
            continue
        assert all(top != "sandbox" for top, *_ in imports(path)), path


HTTP_ONLY_THROUGH_THE_ADAPTER = ("core", "checks", "engine", "compose_stack", "targets", "decommission", "alerts", "orchestration")


@pytest.mark.parametrize("package", HTTP_ONLY_THROUGH_THE_ADAPTER)
def test_http_goes_through_adapters_http_alone(package):
    """httpx honours the environment's proxy unless told not to: one module sets it up."""
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("httpx", "requests", "urllib3") for n in names), \
                f"{path.relative_to(ROOT)}:{node.lineno}: use adapters/http.py"


def test_the_compose_label_filter_is_built_in_one_place():
    """Compose's project and service labels are named in adapters/compose.py only (issue 22)."""
    holding = sorted(str(path.relative_to(ROOT)) for _, path in sources()
                     if "com.docker.compose." in path.read_text())
    assert holding == ["adapters/compose.py"], holding


def test_no_target_imports_another():
    """The xiaozhi-server target once subclassed compose-env's and took its apply machinery; the
    engine (engine/) and compose_stack/ hold what they share now (issue 22)."""
    assert len(TARGET_PACKAGES) >= 2
    for package, path in sources():
        if not package.startswith("targets."):
            continue
        for layer, module, names, line in imports(path):
            taken = {layer} | {unit(f"{module}.{name}") for name in names if module == "targets"}
            others = sorted(t for t in taken if t.startswith("targets") and t != package)
            assert not others, f"{path.relative_to(ROOT)}:{line} imports {others}"


def test_no_package_below_the_targets_names_one():
    """Issue 22: the registry's table is the one place a target is named; the engine, the checks,
    the orchestration, the rehearsal and tasks.py ask it."""
    names = re.compile(r"compose-env|xiaozhi-server|xiaozhi_server|compose_env")
    found = []
    for package in ("core", "adapters", "checks", "engine", "compose_stack", "decommission", "orchestration",
                    "rehearsal", "alerts", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found += [f"{path.relative_to(ROOT)}:{n}" for n, text in enumerate(path.read_text().splitlines(), 1)
                      if names.search(text)]
    found += [f"tasks.py:{n}" for n, text in enumerate((ROOT / "tasks.py").read_text().splitlines(), 1)
              if names.search(text)]
    assert found == ["core/registry.py:15", "core/registry.py:16"], found


@pytest.mark.parametrize("path", [ROOT / "targets" / name / "target.py" for name in TARGET_PACKAGES])
def test_a_targets_lazy_imports_are_listed_with_their_reason(path):
    """`invoke health` loads the target: what only a move needs is imported in the method, and the
    module's LAZY says which, once (issue 22: lazy imports listed with their reason in one place)."""
    tree = ast.parse(path.read_text())
    listed = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                  and getattr(n.targets[0], "id", "") == "LAZY")
    unlisted = [f"{node.module}.{a.name}" for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
                for node in ast.walk(fn) if isinstance(node, ast.ImportFrom) for a in node.names
                if node.module not in listed and f"{node.module}.{a.name}" not in listed]
    unlisted += [a.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
                 for node in ast.walk(fn) if isinstance(node, ast.Import) for a in node.names if a.name not in listed]
    assert not unlisted, f"{path.name}: lazy imports not in LAZY: {unlisted}"


SDK_USE = re.compile(r"\b(client|self\.client|c)\.(containers|images|volumes|networks)\.|\.attrs\[|^\s*(import docker|from docker\b)",
                     re.M)


def test_docker_sdk_objects_stay_in_the_adapters():
    """Containers, images and volumes are read and acted on through adapters/docker_api.py (by
    name, as inspect data or frozen records); no product package holds an SDK object (issue 22)."""
    holding = sorted(str(path.relative_to(ROOT)) for package, path in sources()
                     if package not in ("adapters", "rehearsal", "sandbox") and SDK_USE.search(path.read_text()))
    assert holding == [], holding
