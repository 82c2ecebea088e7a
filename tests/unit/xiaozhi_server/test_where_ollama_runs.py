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
from xiaozhi_server import plan as p, render as r

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
     NO_LOCAL_SERVICE, "exited", "a container xiaozhi-local-llm"),
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
    data["migrate"]["local_llm"]["runs_on"] = "host"
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
    (PORT_OPEN, None, "http", "WARNING"),       # cannot tell: said, not assumed gone
])
def test_health_at_the_cutover_judges_only_our_model_on_the_hosts_ollama(tmp_path, port, model_present, error,
                                                                          status):
    s = settings(tmp_path, **HOST)
    local = f.LocalLLM("http://127.0.0.1:11434", "qwen2:7b", model_present=model_present, error=error)
    [result] = judge.local_llm(s.stage(3), port, local, s.health, light=True, on_host=True)
    assert result.status.name == status, result


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
