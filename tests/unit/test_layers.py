"""Layers point down only, and no package reaches into another's private names (README,
"Architecture"). Read from the source with ast: lazy imports inside functions count too."""
import ast
import re

import pytest

from ..conftest import ROOT

# What each package may import from the toolkit's own packages.
MAY_IMPORT = {
    "core": set(),
    "adapters": {"core"},
    "checks": {"core", "adapters"},
    "engine": {"core", "adapters", "checks"},   # the stage move: knows no kind of stack
    "deploy": {"core", "adapters", "checks", "engine", "decommission"},   # the compose-env target
    "decommission": {"core", "adapters", "checks"},
    "bench": {"core", "adapters"},
    "xiaozhi_server": {"core", "adapters", "checks", "engine", "deploy", "decommission"},  # a target: above the engine, checks and decommission
    "alerts": {"core", "adapters"},  # signing, messages, when to send, the sender
    "orchestration": {"core", "adapters", "checks", "engine", "deploy", "decommission", "xiaozhi_server", "alerts"},
    "rehearsal": {"core", "adapters", "checks", "engine", "deploy", "decommission", "orchestration", "xiaozhi_server"},
    "sandbox": {"core"},  # the emulators share the Ollama store's layout, nothing else
}
PACKAGES = set(MAY_IMPORT) | {"tasks"}


def imports(path):
    """(imported package, imported names or attribute paths, line) of each toolkit import."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in PACKAGES:
                yield top, node.module, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in PACKAGES:
                    yield top, alias.name, [], node.lineno


def sources():
    for package in MAY_IMPORT:
        for path in sorted((ROOT / package).rglob("*.py")):
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


HTTP_ONLY_THROUGH_THE_ADAPTER = ("core", "checks", "engine", "deploy", "decommission", "xiaozhi_server", "alerts", "orchestration")


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


def test_no_target_takes_another_targets_machinery():
    """The xiaozhi-server target once subclassed compose-env's and took its apply machinery; the
    engine (engine/) holds what both need now (issue 22)."""
    for _, path in sources():
        if path.parent.name != "xiaozhi_server":
            continue
        for top, module, names, line in imports(path):
            for taken in [module] + [f"{module}.{name}" for name in names]:
                assert taken not in ("deploy.apply", "deploy.target"), f"{path.name}:{line} {taken}"


@pytest.mark.parametrize("path", [ROOT / "deploy" / "target.py", ROOT / "xiaozhi_server" / "target.py"])
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
