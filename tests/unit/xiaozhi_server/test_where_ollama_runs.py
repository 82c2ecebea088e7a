"""The local entry's base_url is where the server reaches its Ollama; the router, health and the
decommission use migrate.local_llm.*. They must agree (a mismatch refuses at adoption, naming both,
never a password of the URL), and an Ollama on the host (runs_on: host) is checked but never
stopped or deleted by the toolkit."""
import dataclasses

import pytest
import yaml

from checks import facts as f, judge
from core import config
from core.errors import ConfigError, Refused
from decommission import quarantine, run as decommission
from targets.xiaozhi_server import plan as p, render as r

from .test_plan import BASE, DATA, KEY, world
from .test_server_config import RICH

NO_LOCAL_SERVICE = BASE.replace("    depends_on: [ollama]\n", "").split("  ollama:")[0]
ENTRY = "base_url: http://xiaozhi-local-llm:11434"


def settings(tmp_path, **local):
    data = yaml.safe_load(yaml.safe_dump(DATA))
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["local_llm"].update(local)
    return config.load(data, env={"QWEN_API_KEY": KEY})


def their_world(base_url: str, *, base=BASE, local_state="running", state=None):
    found = world(config_text=RICH.replace(ENTRY, f"base_url: {base_url}"), base=base, state=state)
    return dataclasses.replace(found, local_state=local_state)


@pytest.mark.parametrize("base_url, local, base, local_state, refused", [
    # the same Ollama, named as the stack names it: the container, or its Compose service
    ("http://xiaozhi-local-llm:11434", {}, BASE, "running", ""),
    ("http://local-llm:11434/", {}, BASE, "running", ""),
    ("http://XIAOZHI-LOCAL-LLM:11434", {}, BASE, "running", ""),
    # the server's own loopback: a note, not a refusal (network_mode: host makes it the host)
    ("http://localhost:11434", {}, BASE, "running", ""),
    # another port, another host: the router would use another Ollama than the server does
    ("http://xiaozhi-local-llm:11500", {}, BASE, "running", "reaches Ollama at xiaozhi-local-llm:11500"),
    ("http://192.168.1.20:11434", {}, BASE, "running", "reaches Ollama at 192.168.1.20:11434"),
    # Ollama on the host, named as the server names it
    ("http://host.docker.internal:11434", {"runs_on": "host", "url": "http://host.docker.internal:11434"},
     NO_LOCAL_SERVICE, None, ""),
    ("http://172.17.0.1:11434", {"runs_on": "host", "url": "http://host.docker.internal:11434"},
     NO_LOCAL_SERVICE, None, "reaches Ollama at 172.17.0.1:11434"),
    # no Ollama in the stack, yet settings say there is one: the way out is runs_on: host
    ("http://host.docker.internal:11434", {"url": "http://host.docker.internal:11434"}, NO_LOCAL_SERVICE, None,
     "set migrate.local_llm.runs_on: host"),
    # runs_on: host while their file runs Ollama as a service (or its container exists)
    ("http://host.docker.internal:11434", {"runs_on": "host", "url": "http://host.docker.internal:11434"},
     BASE, "running", "runs Ollama in this stack"),
    ("http://host.docker.internal:11434", {"runs_on": "host", "url": "http://host.docker.internal:11434"},
     NO_LOCAL_SERVICE, "exited", "a container xiaozhi-local-llm exists here (exited): remove it"),
    # their file's own service name for Ollama (here `ollama`) is the same Ollama too
    ("http://ollama:11434", {}, BASE, "running", ""),
    # loopback: the port still counts
    ("http://localhost:11500", {}, BASE, "running", "reaches Ollama on port 11500 of localhost"),
    # a password with an unencoded '/': nothing of the address is shown
    ("http://ops:sk/abc@10.0.0.7:11434", {}, BASE, "running", "an address that cannot be read, not shown"),
])
def test_the_entry_and_the_settings_name_the_same_ollama(tmp_path, base_url, local, base, local_state, refused):
    s = settings(tmp_path, **local)
    plan = p.make(s, their_world(base_url, base=base, local_state=local_state), s.stage(0))
    problems = plan.adoption.problems
    if refused:
        assert any(refused in line for line in problems), problems
        assert not plan.files
    else:
        assert not problems, problems


def test_a_mismatch_names_both_and_never_the_urls_user_password_or_path(tmp_path):
    s = settings(tmp_path)
    plan = p.make(s, their_world("http://ops:Pw-0llama!@10.0.0.7:11434/base?token=tok_5e5e5e"), s.stage(0))
    text = "\n".join(plan.adoption.problems)
    assert "10.0.0.7:11434" in text and "xiaozhi-local-llm:11434" in text
    for secret in ("ops", "Pw-0llama", "tok_5e5e5e", "/base"):
        assert secret not in text


def test_runs_on_host_is_the_xiaozhi_server_targets_only(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(DATA))
    data["migrate"].update(target="compose-env", deploy_dir=str(tmp_path))
    data["migrate"]["local_llm"].update(runs_on="host", url="http://host.docker.internal:11434")
    with pytest.raises(ConfigError) as err:
        config.load(data, env={})
    assert err.value.where == "migrate.local_llm.runs_on" and "local-llm" in err.value.hint


HOST = {"runs_on": "host", "url": "http://host.docker.internal:11434"}


def test_the_cutover_plan_says_the_hosts_ollama_is_the_operators_to_free(tmp_path):
    s = settings(tmp_path, **HOST)
    found = their_world("http://host.docker.internal:11434", base=NO_LOCAL_SERVICE, local_state=None,
                        state={"stage": 2})
    text = p.describe(p.make(s, found, s.stage(3)), KEY, s)
    assert "does not stop it or delete qwen2:7b" in text and "ollama stop qwen2:7b" in text
    at_2 = p.describe(p.make(s, dataclasses.replace(found, state={"stage": 1}), s.stage(2)), KEY, s)
    assert "does not stop it" not in at_2


def test_decommission_and_restore_refuse_an_ollama_on_the_host_before_touching_anything(tmp_path):
    s = settings(tmp_path, **HOST)
    touched = []
    with pytest.raises(Refused) as err:
        decommission.decommission(s, lambda: touched.append("routed"), yes=True, client=object())
    assert err.value.where == "migrate.local_llm.runs_on" and "ollama rm qwen2:7b" in err.value.hint
    assert err.value.exit_code == 2 and not touched and not list(tmp_path.iterdir())
    with pytest.raises(Exception, match="never quarantined"):
        quarantine.restore(s, str(tmp_path / "q"), yes=True)


PORT_OPEN, PORT_CLOSED = f.Port("127.0.0.1", 11434, open=True), f.Port("127.0.0.1", 11434, open=False)


@pytest.mark.parametrize("port, model_present, error, status", [
    (PORT_CLOSED, None, None, "OK"),            # stopped by the operator
    (PORT_OPEN, False, None, "OK"),             # still serving their other models: not ours to judge
    (PORT_OPEN, True, None, "WARNING"),         # ours still held: its memory is not freed
    (PORT_OPEN, None, "http", "WARNING"),       # cannot tell: said so, not assumed gone or held
])
def test_health_at_the_cutover_judges_only_our_model_on_the_hosts_ollama(tmp_path, port, model_present, error,
                                                                          status):
    s = settings(tmp_path, **HOST)
    local = f.LocalLLM("http://127.0.0.1:11434", "qwen2:7b", model_present=model_present, error=error)
    [result] = judge.local_llm(s.stage(3), port, local, s.health, light=True, on_host=True)
    assert result.status.name == status, result
    assert ("cannot tell" in result.actual) is (error is not None)


def test_the_same_port_open_in_a_container_stack_is_still_a_warning(tmp_path):
    s = settings(tmp_path)
    local = f.LocalLLM("http://127.0.0.1:11434", "qwen2:7b", model_present=False)
    [result] = judge.local_llm(s.stage(3), PORT_OPEN, local, s.health, light=True)
    assert result.status.name == "WARNING" and "invoke decommission" in result.actual


def test_integrity_of_a_hosts_ollama_without_its_store_path_rests_on_its_template(tmp_path):
    s = settings(tmp_path, **HOST)
    stack = f.Stack("ok")
    ok = judge.integrity(f.LocalLLM("u", "qwen2:7b", template=True), stack, s.local_llm)
    bad = judge.integrity(f.LocalLLM("u", "qwen2:7b", template=False), stack, s.local_llm)
    assert ok.status.name == "OK" and "store_host_path" in ok.actual
    assert bad.status.name == "CRITICAL" and "`ollama pull qwen2:7b` on this host" in bad.actual


def test_an_ollama_entry_without_base_url_is_localhost_as_upstream_reads_it_and_its_url_key_is_not_read(tmp_path):
    s = settings(tmp_path)
    no_base = RICH.replace(f"    {ENTRY}\n", "    url: http://10.9.9.9:11500\n")
    plan = p.make(s, dataclasses.replace(their_world(""), files={**their_world("").files, r.CONFIG_FILE: no_base}),
                  s.stage(0))
    assert not plan.adoption.problems and any("names localhost" in n for n in plan.notes), plan.adoption.problems


def test_after_adoption_a_mismatch_is_a_warning_so_that_a_way_back_stays_open(tmp_path):
    s = settings(tmp_path)
    found = their_world("http://192.168.1.20:11434", state={"stage": 3})
    plan = p.make(s, found, s.stage(2), allow_skip=True)
    assert not plan.adoption.problems and plan.files
    assert any(n.startswith("warning: LLM.OllamaLLM.base_url reaches Ollama at 192.168.1.20:11434") for n in plan.notes)


def test_runs_on_host_with_a_url_naming_a_container_of_the_stack_is_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, runs_on="host")   # url left at http://xiaozhi-local-llm:11434
    assert err.value.where == "migrate.local_llm.url" and "host.docker.internal" in err.value.hint


def test_the_repair_hint_for_a_hosts_ollama_is_a_pull_on_the_host(tmp_path):
    hint = quarantine.repair_hint(settings(tmp_path, **HOST), container_exists=False)
    assert hint.startswith("`ollama pull qwen2:7b` on this host") and "docker" not in hint


def test_the_outage_on_a_hosts_ollama_without_the_model_is_refused_before_any_move(tmp_path, monkeypatch):
    from core import state
    from orchestration import outage, targets
    s = settings(tmp_path, **HOST)
    tmp_path.mkdir(exist_ok=True)
    state.write(tmp_path, stage=3)
    moved = []
    monkeypatch.setattr(targets, "load", lambda _: type("T", (), {
        "needs_local_model": lambda self, stage: ("/usr/share/ollama/.ollama/models", ["no manifest"])})())
    monkeypatch.setattr(outage.move, "phase", lambda *a, **k: moved.append(a))
    with pytest.raises(Refused) as err:
        outage.start(s, yes=True)
    assert "ollama pull qwen2:7b" in err.value.hint and not moved and state.current_stage(tmp_path) == 3
