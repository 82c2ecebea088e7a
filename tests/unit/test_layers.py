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
    "litellm_router": {"core", "adapters", "compose_stack"},   # the router of a split, for the upstream-server targets
    # Each target: above the engine, checks and decommission; never another target.
    **{f"targets.{name}": {"core", "adapters", "checks", "engine", "decommission", "compose_stack", "litellm_router"}
       for name in TARGET_PACKAGES},
    "bench": {"core", "adapters"},
    "alerts": {"core", "adapters"},  # signing, messages, when to send, the sender
    "orchestration": {"core", "adapters", "checks", "engine", "decommission", "alerts"},   # targets through the registry
    "rehearsal": {"core", "adapters", "checks", "engine", "decommission", "orchestration"},
    "sandbox": {"core"},  # the emulators share the Ollama store's layout, nothing else
    "fleet": {"core", "adapters", "checks"},   # many hosts: each host's own toolkit does the move (checks: the statuses' order)
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


HTTP_ONLY_THROUGH_THE_ADAPTER = ("core", "checks", "engine", "compose_stack", "targets", "decommission", "alerts", "bench",
                                 "orchestration", "rehearsal")


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
    names = re.compile(r"compose-env|xiaozhi-server|xiaozhi_server|compose_env|xiaozhi-console|xiaozhi_console")
    found = []
    for package in ("core", "adapters", "checks", "engine", "compose_stack", "litellm_router", "decommission",
                    "orchestration", "rehearsal", "alerts", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found += [f"{path.relative_to(ROOT)}:{n}" for n, text in enumerate(path.read_text().splitlines(), 1)
                      if names.search(text)]
    found += [f"tasks.py:{n}" for n, text in enumerate((ROOT / "tasks.py").read_text().splitlines(), 1)
              if names.search(text)]
    from core import registry
    table = [f"core/registry.py:{n}" for n, text in enumerate((ROOT / "core" / "registry.py").read_text().splitlines(), 1)
             if names.search(text) and text.strip().startswith(tuple(f'"{name}":' for name in registry.TARGETS))]
    assert found == table and len(table) == len(registry.TARGETS), found


# Every import inside a function of the product, and why it is there: this table is the one
# place that says it (issue 22). Everything else is imported at the top of its module. "*" is any
# import of that file. The figures: `python -X importtime`, on the 4-core host CI runs on.
LAZY_IMPORTS = {
    "tasks.py": {"*": "`invoke --list` and every task's start import tasks.py: a task imports "
                      "its packages when it runs"},
    "targets/xiaozhi_server/tasks.py": {"litellm_router": "tasks.py adds this collection: "
                                                                               "the same as tasks.py's"},
    **{f"targets/{name}/target.py": {"*": "`invoke health` (cron) loads the target for its probes: what only "
                                          "a move needs (its plan, Jinja2, the SDK, ruamel) is imported by the "
                                          "methods that move"} for name in TARGET_PACKAGES},
    "adapters/docker_api.py": {"docker": "the docker SDK (requests, urllib3: ~100 ms) only for a task that writes "
                                         "through it; cron's health never does"},
    "bench/report.py": {"matplotlib": "matplotlib (~300 ms) for the chart only",
                        "matplotlib.pyplot": "the same"},
    "checks/run.py": {"checks.probes": "httpx, imported in the probes' own thread while the report is prepared",
                      "adapters.http": "the same", "checks.stack": "the same (the engine's reader)",
                      "checks.host": "psutil, in the probes' thread"},
    "checks/stack.py": {"adapters.dockerd": "httpx, in the probes' thread"},
    "orchestration/alerting.py": {"alerts": "the senders (httpx) only when an alert may go out",
                                  "alerts.message": "the message and its signing only when an event is made: "
                                                    "cron's health imports this module on every run",
                                  "decommission.quarantine": "the store's reader (store, collect, locate) only "
                                                             "for an outage's next steps, likewise"},
    "core/cli.py": {"core.config": "config (~10 ms) only when a task reads its settings: `invoke --list` imports "
                                   "this module",
                    "core.errors": "the same: only when a task runs (~2 ms with core.secrets)",
                    "core.secrets": "the same"},
    "targets/xiaozhi_server/health.py": {"adapters.http": "httpx, in the probes' thread",
                                         "adapters.dockerd": "the same",
                                         "targets.xiaozhi_server.plan": "the plan (the SDK's helpers) in the "
                                                                        "probes' thread",
                                         "targets.xiaozhi_server.server_config": "ruamel.yaml (~60 ms), likewise"},
    "targets/xiaozhi_console/health.py": {"adapters.dockerd": "httpx, in the probes' thread",
                                          "adapters": "httpx, PyMySQL and redis-py, likewise",
                                          "core": "the state file's reader, in the probes' thread",
                                          "targets.xiaozhi_console": "the plan and the rows' reader (the SDK's "
                                                                     "helpers, PyMySQL) in the probes' thread"},
    "adapters/mysql.py": {"pymysql": "PyMySQL only for a target with a database: the others never pay for it"},
    "adapters/rediscache.py": {"redis": "redis-py (~40 ms) likewise"},
    "litellm_router/router.py": {"compose_stack.templating": "Jinja2 only to render: health reads the "
                                                                     "router's weights through this module"},
    "targets/xiaozhi_server/server_config.py": {"ruamel.yaml": "ruamel.yaml only when their file is read or written: "
                                                               "the health path imports this module",
                                                "ruamel.yaml.error": "the same", "ruamel.yaml.tokens": "the same"},
}


def lazy_imports():
    """(file, imported module) of every import inside a function of the product."""
    paths = [path for package, path in sources() if package not in ("sandbox",)] + [ROOT / "tasks.py"]
    for path in paths:
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Import):
                        yield from ((str(path.relative_to(ROOT)), a.name) for a in node.names)
                    elif isinstance(node, ast.ImportFrom):   # `from a import b` may import the module a.b
                        for a in node.names:
                            full = f"{node.module}.{a.name}"
                            yield str(path.relative_to(ROOT)), full if full in LAZY_IMPORTS.get(
                                str(path.relative_to(ROOT)), {}) else node.module


def test_every_lazy_import_is_in_the_one_table_with_its_reason():
    unlisted = sorted({f"{path}: {module}" for path, module in lazy_imports()
                       if "*" not in LAZY_IMPORTS.get(path, {}) and module not in LAZY_IMPORTS.get(path, {})})
    assert not unlisted, "import these at the top of the module, or say why not in LAZY_IMPORTS: " + str(unlisted)
    listed = {(path, module) for path, modules in LAZY_IMPORTS.items() for module in modules if module != "*"}
    stale = sorted(listed - set(lazy_imports()))
    assert not stale, f"LAZY_IMPORTS lists imports that are no longer lazy: {stale}"


SDK_USE = re.compile(r"\b(client|self\.client|c)\.(containers|images|volumes|networks)\.|\.attrs\[|^\s*(import docker|from docker\b)",
                     re.M)


def test_docker_sdk_objects_stay_in_the_adapters():
    """Containers, images and volumes are read and acted on through adapters/docker_api.py (by
    name, as inspect data or frozen records); no product package holds an SDK object (issue 22)."""
    holding = sorted(str(path.relative_to(ROOT)) for package, path in sources()
                     if package not in ("adapters", "sandbox") and SDK_USE.search(path.read_text()))
    assert holding == [], holding
