"""An Ollama the operator runs on the host (migrate.local_llm.runs_on: host), played by the
emulator on loopback over a real store: the xiaozhi-server target's health asks it over HTTP at
every stage, judges only our model (a store holding other models is normal), and never looks for
a container; the decommission refuses and leaves the store as it was."""
import pytest
import yaml

from checks import run
from core import config
from core.errors import Refused
from decommission import run as decommission
from sandbox.store import Store
from targets.xiaozhi_server import health

from ..conftest import ROOT


def settings(tmp_path, url):
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"].update(target="xiaozhi-server", deploy_dir=str(tmp_path / "deploy"))
    data["migrate"]["local_llm"].update(runs_on="host", url="http://host.docker.internal:11434", probe_url=url)
    data["migrate"]["health"]["timeout"] = 5
    return config.load(data, env={})


def results(s, n):
    return {r.name: r for r in run.start(s, s.stage(n), extra=health.EXTRA, light=True)().results}


def test_at_the_split_the_hosts_ollama_is_judged_by_its_api_not_a_container(tmp_path, ollama_server):
    found = results(settings(tmp_path, ollama_server.url), 2)
    assert found["local.port"].status.name == "OK" and found["local.model"].status.name == "OK"
    assert found["local.integrity"].status.name == "OK" and "store_host_path" in found["local.integrity"].actual
    assert not any(name.startswith("container.xiaozhi-local-llm") for name in found)


def test_at_the_cutover_only_our_model_held_is_a_warning(tmp_path, ollama_server, store_dir):
    s = settings(tmp_path, ollama_server.url)
    assert results(s, 3)["local.port"].status.name == "WARNING"
    Store(store_dir).delete("qwen2:7b")  # as `ollama rm qwen2:7b` would: the server keeps answering
    after = results(s, 3)["local.port"]
    assert after.status.name == "OK" and "answers without qwen2:7b" in after.actual


def test_the_decommission_refuses_and_the_store_is_left_as_it_was(tmp_path, ollama_server, store_dir):
    before = sorted((p.relative_to(store_dir), p.stat().st_size) for p in store_dir.rglob("*"))
    with pytest.raises(Refused, match="does not stop it or delete qwen2:7b"):
        decommission.decommission(settings(tmp_path, ollama_server.url), lambda: None, yes=True, force=True)
    assert sorted((p.relative_to(store_dir), p.stat().st_size) for p in store_dir.rglob("*")) == before
