"""No repr() of the product's data shows a secret: every dataclass field that can hold one (a
key, a token, a password, a file's or an environment's contents) is declared repr=False. The test
walks every dataclass of every package, so that a new field is judged the day it is added: one
that matches a secret's name and can hold text is either repr=False or listed in SAFE with why."""
import dataclasses
import importlib
import pkgutil
import re

import pytest

PACKAGES = ("core", "adapters", "checks", "compose_stack", "targets", "decommission", "orchestration", "alerts",
            "bench", "rehearsal", "sandbox")
SECRET = re.compile(r"(^|_)(key|keys|secret|token|password|passwd|credentials?|auth|api|env|environment|dotenv|"
                    r"entries|text|files|old|new|body|base|master|payload|headers?|url|urls)($|_)", re.I)
TEXTUAL = re.compile(r"\b(str|dict|Mapping|tuple|list|Any)\b|^[A-Z]\w*$")
SAFE = {   # field: why it holds no secret
    "core.registry.TargetSpec.key_place": "the name of the file that holds the key, and the function reading it",
    "core.config.Settings.key_source": "where the key came from, or why none was taken",
    "core.config.Settings.api": "the API's settings: URL, model, timeouts (the key is Settings.api_key)",
    "core.config.Settings.api_prices": "prices per model, from config",
    "core.config.Api.base_url": "DashScope's URL, as configured and shown in every plan",
    "core.config.Api.probe_url": "the same URL, or the sandbox's",
    "core.config.LocalLLM.url": "Ollama's URL on the stack's network",
    "core.config.LocalLLM.probe_url": "the same, as the host reaches it",
    "targets.xiaozhi_server.settings.XiaozhiServer.http_url": "the server's own port 8000",
    "targets.xiaozhi_server.settings.XiaozhiServer.ota_url": "the server's OTA address",
    "targets.xiaozhi_console.settings.Console.manager_url": "manager-api's address (config)",
    "targets.xiaozhi_console.settings.Console.http_url": "the server's own port 8000",
    "targets.xiaozhi_console.settings.Console.credentials_file": "the path of the owner-only file, not its contents",
    "targets.xiaozhi_console.settings.Console.api_model": "the id of a model config row",
    "checks.facts.Api.auth": "a word: ok, no_key, bad_key, throttled ...",
    "checks.facts.Api.url": "the probed URL (config)",
    "checks.facts.Endpoint.url": "the probed URL (config)",
    "checks.facts.LocalLLM.url": "the probed URL (config)",
    "checks.facts.Container.env": "the drift variables only (limits and weights), never the key",
    "targets.compose_env.plan.Plan.files": "FileChanges, whose contents are repr=False",
    "targets.compose_env.plan.Plan.base_changed": "two digests of their base file",
    "targets.xiaozhi_server.plan.ServerPlan.files": "Changes, whose contents are repr=False",
    "targets.xiaozhi_server.health.Answer.url": "the server's own port",
    "targets.xiaozhi_server.health.Answer.body": "what the server's port 8000 answers to anyone",
    "litellm_router.router.Backend.base_url": "config URLs the router reaches",
    "litellm_router.router.RouterSpec.api": "a Backend: URL, model, timeout",
    "targets.xiaozhi_server.stages.Entries.router_url": "the router's address on the stack's network",
    "decommission.run.Facts.api_detail": "the API probe's words",
    "bench.load.Target.url": "the benchmarked URL (config)",
    "rehearsal.sandbox_stack.SandboxSettings.base_image": "an image name",
    "rehearsal.sandbox_stack.SandboxSettings.local_base_image": "an image name",
}


def dataclasses_of_the_product():
    found = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            module = importlib.import_module(info.name)
            for obj in vars(module).values():
                if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


CLASSES = dataclasses_of_the_product()


def test_the_walk_finds_the_dataclasses_that_hold_keys():
    for name in ("core.secrets.Found", "targets.xiaozhi_server.stages.Entries", "core.alert_settings.Channel",
                 "core.config.Settings", "targets.xiaozhi_server.plan.Change"):
        assert name in CLASSES


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_no_field_that_can_hold_a_secret_has_a_repr(name):
    shown = [f"{name}.{f.name}" for f in dataclasses.fields(CLASSES[name])
             if f.repr and SECRET.search(f.name) and TEXTUAL.search(str(f.type))
             and f"{name}.{f.name}" not in SAFE]
    assert not shown, f"declare these repr=False (or list one in SAFE with why it holds no secret): {shown}"


def test_the_reproduced_reprs_hold_no_key():
    from core.secrets import Found
    from targets.xiaozhi_server.stages import Edited, Entries
    key = "sk-repr-0123456789"
    for value in (Found(key, "QWEN_API_KEY"), Entries("OllamaLLM", {"api_key": key}, "http://r:4000/v1", key),
                  Edited(f"api_key: {key}\n", [], [])):
        assert key not in repr(value)
