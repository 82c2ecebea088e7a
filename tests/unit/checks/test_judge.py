"""Scenario table: facts as the probes would report them -> status of each check, per stage."""
import pytest
import yaml

from checks import facts as f
from checks import judge
from checks.model import Status, worst
from checks.run import evaluate
from targets.compose_env.health import EXTRA as COMPOSE_ENV
from core import config

from ...conftest import ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={"QWEN_API_KEY": "k"})
OK, WARN, CRIT, UNK = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN


def env_for(stage):
    return {s: {"state": "running", "health": "healthy", "container": s, "env": e}
            for s, e in judge.expected_env(SETTINGS.stage(stage)).items()}


GENERATION = ("first_token_s", "generate_error")


def typed(kind, fields: dict):
    """The probes' records, from the flat words the scenario table is written in."""
    fields = dict(fields)
    gen = {k: fields.pop(k) for k in GENERATION if k in fields}
    generation = f.Generation(first_token_s=gen.get("first_token_s"), error=gen.get("generate_error")) if gen else None
    if kind is f.LocalLLM:
        return f.LocalLLM(url="http://127.0.0.1:11434", **{"model": "qwen2:7b", **fields}, generation=generation)
    return f.Api(url="http://127.0.0.1:18080", model="qwen-plus", **fields, generation=generation)


def container(fields: dict | None):
    return f.Container(**fields) if fields else None


def facts(stage=2, port=True, port_error="refused", local=None, api=None, services=None, local_container="up",
          engine="ok", mem_mb=6000, disk_gb=50, integrity=()):
    local_container = {"up": {"container": "xiaozhi-local-llm", "state": "running", "health": "healthy"},
                       "exited": {"container": "xiaozhi-local-llm", "state": "exited", "health": "unhealthy"},
                       None: None}[local_container]
    return {
        "local_port": f.Port(open=port, host="127.0.0.1", port=11434, error=None if port else port_error),
        "local": typed(f.LocalLLM, local if local is not None else {
            "model": "qwen2:7b", "version": "0.6.8", "model_present": True, "first_token_s": 0.3, "template": True}),
        "api": typed(f.Api, api if api is not None else {"auth": "ok", "first_token_s": 0.8}),
        "stack": f.Stack(engine=engine, detail="down",
                         services={k: container(v) for k, v in (services or env_for(stage)).items()},
                         local_container=container(local_container),
                         integrity=list(integrity) if integrity is not None else None,
                         store="/var/lib/docker/volumes/xiaozhi_ollama/_data/models",
                         host=f.Host(mem_available=mem_mb * 2 ** 20, mem_total=8 * 2 ** 30, load1=1.0, cpus=4,
                                     disk_path="/", disk_free=disk_gb * 2 ** 30, listener=None,
                                     local_model_rss=None)),
    }


SCENARIOS = [
    # id, stage, facts, {check: status}, worst
    ("healthy", 2, facts(), {"local.port": OK, "local.generate": OK, "api.auth": OK, "drift": OK,
                             "local.integrity": OK}, OK),
    ("a blob missing", 1, facts(stage=1, integrity=["missing blob sha256-ab (named by the manifest, 7 bytes)"]),
     {"local.integrity": CRIT}, CRIT),
    ("no template", 2, facts(local={"model": "qwen2:7b", "model_present": True, "first_token_s": 0.3,
                                    "template": False}), {"local.integrity": CRIT}, CRIT),
    ("store not found", 0, facts(stage=0, integrity=None), {"local.integrity": UNK}, UNK),
    ("refused", 2, facts(port=False), {"local.port": CRIT}, CRIT),
    ("port timeout", 2, facts(port=False, port_error="timeout"), {"local.port": CRIT}, CRIT),
    ("hang", 2, facts(local={"model": "qwen2:7b", "error": "timeout"}), {"local.model": CRIT}, CRIT),
    ("model missing", 2, facts(local={"model": "qwen2:7b", "version": "1", "model_present": False}),
     {"local.model": CRIT}, CRIT),
    ("local slow", 2, facts(local={"model": "qwen2:7b", "model_present": True, "first_token_s": 0.6}),
     {"local.generate": WARN}, WARN),
    ("local very slow", 2, facts(local={"model": "qwen2:7b", "model_present": True, "first_token_s": 1.2}),
     {"local.generate": CRIT}, CRIT),
    ("error line", 2, facts(local={"model": "qwen2:7b", "model_present": True, "generate_error": "stream_error"}),
     {"local.generate": CRIT}, CRIT),
    ("401", 2, facts(api={"auth": "bad_key", "detail": "InvalidApiKey"}), {"api.auth": CRIT}, CRIT),
    ("429", 2, facts(api={"auth": "throttled"}), {"api.auth": WARN}, WARN),
    ("500", 2, facts(api={"auth": "server_error"}), {"api.auth": CRIT}, CRIT),
    ("dns", 2, facts(api={"auth": "dns"}), {"api.auth": CRIT}, CRIT),
    ("tls", 2, facts(api={"auth": "tls", "detail": "certificate verify failed"}), {"api.auth": CRIT}, CRIT),
    ("api slow", 2, facts(api={"auth": "ok", "first_token_s": 2.0}), {"api.generate": WARN}, WARN),
    ("api 500 on completion", 2, facts(api={"auth": "ok", "generate_error": "server_error"}),
     {"api.generate": CRIT}, CRIT),
    ("no key at stage 0", 0, facts(stage=0, api={"auth": "no_key"}), {"api.auth": WARN}, WARN),
    ("no key at stage 2", 2, facts(api={"auth": "no_key"}), {"api.auth": CRIT}, CRIT),
    ("drifted env", 2, facts(services=env_for(1) | {"vad": env_for(3)["vad"]}), {"drift": WARN}, WARN),
    ("container exited", 2, facts(local_container="exited"), {"container.xiaozhi-local-llm": CRIT}, CRIT),
    ("engine down", 2, facts(engine="unreachable"), {"containers": UNK, "drift": UNK}, UNK),
    ("stage 3 clean", 3, facts(stage=3, port=False, local_container=None), {"local.port": OK,
                                                                             "container.xiaozhi-local-llm": OK}, OK),
    ("stage 3 leftover container", 3, facts(stage=3, port=False, local_container="exited"),
     {"container.xiaozhi-local-llm": WARN}, WARN),
    ("stage 3 port still open", 3, facts(stage=3, port=True, local_container=None), {"local.port": WARN}, WARN),
    ("low memory", 2, facts(mem_mb=500), {"host": WARN}, WARN),
    ("low disk", 2, facts(disk_gb=1), {"host": WARN}, WARN),
]


@pytest.mark.parametrize("stage, observed, expected, overall", [s[1:] for s in SCENARIOS],
                         ids=[s[0] for s in SCENARIOS])
def test_scenarios(stage, observed, expected, overall):
    results = {r.name: r.status for r in evaluate(SETTINGS, SETTINGS.stage(stage), observed, light=False, extra=COMPOSE_ENV)}
    for name, status in expected.items():
        assert results[name] is status, (name, results)
    assert worst(results.values()) is overall


def test_stage_3_does_not_probe_the_local_model():
    results = evaluate(SETTINGS, SETTINGS.stage(3), facts(stage=3, port=False, local_container=None), light=False,
                       extra=COMPOSE_ENV)
    assert not any(r.name in ("local.model", "local.generate") for r in results)


def test_light_skips_generate_checks():
    names = {r.name for r in evaluate(SETTINGS, SETTINGS.stage(2), facts(), light=True, extra=COMPOSE_ENV)}
    assert "local.generate" not in names and "api.generate" not in names and "local.model" in names


def test_drift_names_variable_and_wanted_value():
    found = judge.drift_of(SETTINGS.stage(2), {k: c.env for k, c in facts(services=env_for(1))["stack"].services.items()})
    assert found == ["llm-service LLM_PROVIDER_WEIGHTS=qwen:25,local:30 (want qwen:70,local:30)"]


@pytest.mark.parametrize("statuses, expected", [
    ([OK, OK], OK), ([OK, WARN], WARN), ([WARN, UNK], UNK), ([UNK, CRIT, WARN], CRIT), ([], OK),
])
def test_worst(statuses, expected):
    assert worst(statuses) is expected


@pytest.mark.parametrize("orphans, status", [
    (None, None),                                   # nothing deployed the override way: no check
    ([], Status.OK),
    (["xiaozhi-old-1 (service old)"], Status.WARNING),
    ("cannot read the compose files: bad", Status.UNKNOWN),
])
def test_orphans_are_a_warning_naming_them(orphans, status):
    from checks.facts import Stack
    results = judge.orphans(Stack("ok", orphans=orphans))
    assert [r.status for r in results] == ([] if status is None else [status])
    if orphans:
        assert (orphans if isinstance(orphans, str) else orphans[0]) in results[0].actual


def test_orphans_are_read_from_both_files(tmp_path):
    from checks import stack
    from ...conftest import OPERATOR_BASE
    data = __import__("yaml").safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["deploy_dir"] = str(tmp_path)
    settings = config.load(data, env={})
    labelled = {"xiaozhi-vad-1": "vad", "xiaozhi-local-llm": "local-llm", "xiaozhi-cache-1": "cache"}
    assert stack.orphans(settings, labelled) is None
    (tmp_path / "docker-compose.yml").write_text(OPERATOR_BASE)
    assert stack.orphans(settings, labelled) == ["xiaozhi-cache-1 (service cache)"]
    (tmp_path / "docker-compose.yml").write_text("services: [\n")
    assert stack.orphans(settings, labelled).startswith("cannot read the compose files")


@pytest.mark.parametrize("stage, auth, gen_error, status", [
    (-1, "bad_key", None, WARN), (-1, "server_error", None, WARN), (-1, "ok", "server_error", WARN),   # the outage
    (3, "bad_key", None, CRIT), (3, "ok", "server_error", CRIT), (0, "server_error", None, CRIT),
])
def test_an_api_that_fails_is_a_warning_only_at_a_stage_that_sends_it_nothing(stage, auth, gen_error, status):
    api = f.Api(url="u", model="qwen-plus", auth=auth,
                generation=f.Generation(error=gen_error) if gen_error else f.Generation(first_token_s=0.5))
    results = judge.api(SETTINGS.stage(stage), api, SETTINGS.health, light=False)
    assert worst([r.status for r in results]) is status, results


def test_the_compose_stacks_rows_keep_their_order():
    """The table, --json, the nagios line (its first CRITICAL) and the alerts list the checks in
    this order; moving compose-env's judgement into its own Extra must not reorder them."""
    names = [r.name for r in evaluate(SETTINGS, SETTINGS.stage(2), facts(), light=False, extra=COMPOSE_ENV)]
    assert names == ["local.port", "local.model", "local.generate", "api.auth", "api.generate", "container.vad",
                     "container.asr", "container.tts", "container.llm-service", "container.xiaozhi-local-llm",
                     "local.integrity", "drift", "host"]
