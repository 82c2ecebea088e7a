"""The xiaozhi-server target's plan, from a world built by hand (no engine): what it writes,
restarts, creates and removes at each move, what it refuses in their folder, and that its text
never shows a secret (the toolkit's or the user's own)."""
import dataclasses

import pytest
import yaml

from core.errors import Refused

from adapters import docker_api
from core import config
from targets.xiaozhi_server import plan as p, render as r, stages
from targets.xiaozhi_server.facts import Seen

from ...conftest import ROOT
from .test_server_config import RICH

DATA = yaml.safe_load((ROOT / "defaults.yaml").read_text())
DATA["migrate"]["target"] = "xiaozhi-server"
KEY = "sk-prod-abcdef123456"
BASE = """services:
  xiaozhi-esp32-server:
    image: ghcr.nju.edu.cn/xinnan-tech/xiaozhi-esp32-server:server_latest
    container_name: xiaozhi-esp32-server
    depends_on: [ollama]
    volumes: [./data:/opt/xiaozhi-esp32-server/data]
  ollama:
    image: ollama/ollama
    container_name: xiaozhi-local-llm
"""


def settings(tmp_path, **server):
    data = yaml.safe_load(yaml.safe_dump(DATA))
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["xiaozhi_server"] = server
    return config.load(data, env={"QWEN_API_KEY": KEY})   # production-like: the key only in the shell


def world(config_text=RICH, base=BASE, state=None, server=("running", 2e9), router=None, mode=0o644, **files):
    deployed = {name: None for name in p.FILES}
    deployed.update({r.CONFIG_FILE: config_text, **files})
    return p.ServerWorld(files=deployed, state=state, base=base, dotenv=None, dotenv_link=False, config_link=False,
                         config_mode=mode, config_mtime=1e9,
                         server=Seen(server[0], server[1]) if server else None, router=router,
                         local_state="running", master_key="sk-master-0123456789")


def test_adopting_at_stage_0_writes_only_the_empty_override(tmp_path):
    s = settings(tmp_path)
    plan = p.make(s, world(), s.stage(0))
    assert [c.name for c in plan.changed_files] == [r.OVERRIDE_FILE]
    assert not plan.restart and not plan.router and not plan.config_mode


@pytest.mark.parametrize("recorded, n, restart, router, mode", [
    (0, 1, True, "", (0o644, 0o600)),       # the API entry added: restarted to prove the server reads the file
    (1, 2, True, "create", (0o644, 0o600)),
    (2, 3, True, "remove", (0o644, 0o600)),
])
def test_each_forward_move(tmp_path, recorded, n, restart, router, mode):
    s = settings(tmp_path)
    before = world(state={"stage": recorded}, router=Seen("running", health="healthy", name="x")
                   if recorded == 2 else None)
    plan = p.make(s, before, s.stage(n))
    assert bool(plan.restart) is restart and plan.router == router and plan.config_mode == mode
    assert plan.changes and not plan.refusals


def test_a_config_changed_by_hand_and_never_restarted_is_a_restart(tmp_path):
    s = settings(tmp_path)
    wanted = p.make(s, world(state={"stage": 0}), s.stage(0))
    converged = world(state={"stage": 0}, server=("running", 5e8), **{c.name: c.new for c in wanted.files})
    plan = p.make(s, converged, s.stage(0))
    assert "has not taken effect" in plan.restart and not plan.nothing_to_do


@pytest.mark.parametrize("change, problem", [
    ({"base": None}, "no docker-compose.yml"),
    ({"base": "services: [a, b]\n"}, "not YAML Compose can read"),
    ({"base": BASE.replace("container_name: xiaozhi-esp32-server", "container_name: other")}, "runs the container"),
    ({"base": BASE + "  xiaozhi-router:\n    image: x\n"}, "already has a service xiaozhi-router"),
    ({"config_text": None}, "does not start without it"),
    ({"config_text": RICH.replace("LLM: OllamaLLM    # the local one", "LLM: AliLLM")}, "not the local entry"),
])
def test_a_folder_that_cannot_be_adopted_is_refused(tmp_path, change, problem):
    s = settings(tmp_path)
    plan = p.make(s, world(**change), s.stage(0))
    assert any(problem in line for line in plan.adoption.problems), plan.adoption.problems
    assert not plan.files


def test_a_server_of_another_compose_project_is_refused(tmp_path):
    s = settings(tmp_path)
    found = world()
    found = dataclasses.replace(found, server=dataclasses.replace(found.server, project="xiaozhi-server"))
    plan = p.make(s, found, s.stage(0))
    assert any("set migrate.project to xiaozhi-server" in line for line in plan.adoption.problems)


def test_a_dotenv_naming_more_compose_files_is_refused_as_for_the_first_target(tmp_path):
    s = settings(tmp_path)
    found = dataclasses.replace(world(), dotenv="COMPOSE_FILE=docker-compose.yml:docker-compose.gpu.yml\n")
    plan = p.make(s, found, s.stage(0))
    assert any("more compose files than docker-compose.yml" in line for line in plan.adoption.problems)


def test_a_file_that_selects_no_llm_is_refused_at_adoption(tmp_path):
    s = settings(tmp_path)
    found = world()
    found = dataclasses.replace(found, files={**found.files, r.CONFIG_FILE: "server:\n  port: 8000\n"})
    plan = p.make(s, found, s.stage(0))
    assert any("sets no selected_module.LLM" in line for line in plan.adoption.problems)


def test_the_note_on_a_localhost_url_shows_only_its_host(tmp_path):
    s = settings(tmp_path)
    found = world(state={"stage": 0})
    theirs = RICH.replace("base_url: http://xiaozhi-local-llm:11434",
                          "base_url: http://admin:S3cr3tPass@localhost:11434/?token=tok_9f8e7d6c5b4a")
    found = dataclasses.replace(found, files={**found.files, r.CONFIG_FILE: theirs})
    text = p.describe(p.make(s, found, s.stage(1)), KEY, s)
    assert "names localhost" in text and "S3cr3tPass" not in text and "tok_9f8e" not in text


def test_a_symlinked_config_file_is_refused(tmp_path):
    s = settings(tmp_path)
    plan = p.make(s, dataclasses.replace(world(), config_link=True), s.stage(0))
    assert any("symlink" in line for line in plan.adoption.problems)


def test_skipping_a_stage_is_refused_without_force(tmp_path):
    s = settings(tmp_path)
    assert p.make(s, world(state={"stage": 0}), s.stage(2)).refusals
    assert not p.make(s, world(state={"stage": 0}), s.stage(2), force=True).refusals


def test_the_plan_never_shows_a_secret(tmp_path):
    s = settings(tmp_path)
    plan = p.make(s, world(state={"stage": 1}), s.stage(2))
    text = p.describe(plan, KEY, s)
    for secret in (KEY, "sk-master-0123456789", "my-own-secret", "你的key", "abc"):
        assert secret not in text.replace("abcdef", ""), secret
    assert "os.environ/DASHSCOPE_API_KEY" in text   # a reference, not a secret: shown


def test_the_cutover_takes_their_local_service_out_of_the_model(tmp_path):
    s = settings(tmp_path)
    plan = p.make(s, world(state={"stage": 2}), s.stage(3), allow_skip=True)
    override = yaml.safe_load(next(c.new for c in plan.files if c.name == r.OVERRIDE_FILE))["services"]
    assert override == {"ollama": {"profiles": ["xiaozhi-migrate-off"]},
                        "xiaozhi-esp32-server": {"depends_on": {"ollama": {"required": False}}}}
    assert stages.selected_for(3, "OllamaLLM") == stages.API_ENTRY


# Their own secrets, each written the way the hostile review found a text mask missing it.
HOSTILE = {
    "a # inside the value": "  api_key: sk-abc#THEIR-GLM-KEY\n",
    "quoted with a ' #'": '  api_key: "9f2c1e #THEIR-GLM-KEY"\n',
    "block scalar": "  api_key: |\n    THEIR-GLM-KEY-block\n",
    "value on the next line": "  api_key:\n    THEIR-GLM-KEY-next\n",
    "flow mapping": "  GLM: {type: openai, api_key: THEIR-GLM-KEY-flow}\n",
    "quoted key name": '  "api_key": THEIR-GLM-KEY-quoted\n',
    "bearer header": "  headers: {Authorization: Bearer THEIR-GLM-KEY-bearer}\n",
    "token in a URL": "  mcp_endpoint: wss://api.xiaozhi.me/mcp/?token=THEIR-GLM-KEY-url\n",
    "password in a URL": "  url: http://admin:THEIR-GLM-KEY-pw@10.0.0.5/\n",
}


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("four_spaces", [False, True])
def test_the_plan_never_shows_a_value_of_their_config_file(tmp_path, name, four_spaces):
    s = settings(tmp_path)
    theirs = RICH.replace("\nprompt: |", "\nextra:\n" + HOSTILE[name] + "prompt: |")
    if four_spaces:   # re-indented their way: the round trip must not re-indent (and so show) every line
        theirs = "\n".join(" " * (2 * (len(l) - len(l.lstrip(" ")))) + l.lstrip(" ") for l in theirs.split("\n"))
    found = world(state={"stage": 0})
    found = dataclasses.replace(found, files={**found.files, r.CONFIG_FILE: theirs})
    for stage in (1, 2):
        try:
            text = p.describe(p.make(s, found, s.stage(stage), allow_skip=True), KEY, s)
        except Refused as exc:   # a style the round trip cannot keep (a plain value on the next line)
            assert name == "value on the next line" and "nothing was changed" in exc.message
            text = exc.message
        else:
            assert "lines of yours unchanged" in text
        assert "THEIR-GLM-KEY" not in text and "my-own-secret" not in text, text


@pytest.mark.parametrize("started, expected", [
    ("2026-11-27T15:40:01.123456789Z", 1795794001.123456789), ("0001-01-01T00:00:00Z", None), (None, None)])
def test_docker_times(started, expected):
    assert docker_api.epoch(started) == (pytest.approx(expected) if expected else None)


@pytest.mark.parametrize("state, begins", [
    ({"StartedAt": "2026-11-27T15:40:10Z", "FinishedAt": "0001-01-01T00:00:00Z"}, 1795794009.0),  # first run
    ({"StartedAt": "2026-11-27T15:40:10Z", "FinishedAt": "2026-11-27T15:40:09.8Z"}, 1795794009.8),  # restarted fast
    ({"StartedAt": "2026-11-27T15:40:10Z", "FinishedAt": "2026-11-27T15:30:00Z"}, 1795794009.0),   # long ago
    ({"StartedAt": "2026-11-27T15:40:10Z", "FinishedAt": "2026-11-27T15:40:11Z"}, 1795794009.0),   # stopped since
    ({"StartedAt": "0001-01-01T00:00:00Z"}, None), ({}, None),                                         # never started
])
def test_the_log_of_this_run_begins_after_the_last_one_ended(state, begins):
    assert p.log_begins(state) == (pytest.approx(begins) if begins else None)


@pytest.mark.parametrize("mode, entry, found", [
    (0o600, {"type": "openai", "api_key": "sk-deployed-777777"}, "sk-deployed-777777"),
    (0o644, {"type": "openai", "api_key": "sk-deployed-777777"}, ""),    # readable by others: never taken
    (0o600, None, ""),
    (0o600, {"api_key": ["not", "a", "string"]}, ""),
])
def test_cron_without_a_key_reads_the_deployed_one_from_their_config(tmp_path, mode, entry, found):
    data = yaml.safe_load(yaml.safe_dump(DATA))
    data["migrate"]["deploy_dir"] = str(tmp_path)
    (tmp_path / "data").mkdir()
    text = RICH   # the API entry under LLM:, as the stage writes it
    if entry is not None:
        text = RICH.replace("\nLLM:\n", "\nLLM:\n  " + stages.API_ENTRY + ": " + yaml.safe_dump(entry, default_flow_style=True))
    path = tmp_path / r.CONFIG_FILE
    path.write_text(text)
    path.chmod(mode)
    s = config.load(data, env={})   # cron: no key in the environment, none in any config file
    assert s.api_key == found, s.key_source


def test_the_router_master_key_is_stable_and_reveals_nothing_of_the_api_key():
    first, again = p.master_key({}, KEY), p.master_key({r.ROUTER_ENV: "LITELLM_MASTER_KEY=old\n"}, KEY)
    assert first == again and KEY not in first and first != p.master_key({}, KEY + "x")
    assert p.master_key({r.ROUTER_ENV: "LITELLM_MASTER_KEY=sk-deployed\n"}, "") == "sk-deployed"   # cron: no key


@pytest.mark.parametrize("theirs, setting, refused", [
    ("qwen2:7b", "qwen2:7b", False), ("qwen2.5", "qwen2.5:latest", False),
    ("qwen2.5", "qwen2:7b", True),            # upstream's example entry with the toolkit's default: the reproduction
    ("qwen2:1.5b", "qwen2:7b", True),
    ("library/qwen2:7b", "qwen2:7b", False), ("registry.ollama.ai/library/qwen2:7b", "qwen2:7b", False),
])
def test_the_model_their_entry_runs_must_be_the_one_the_toolkit_decommissions(tmp_path, theirs, setting, refused):
    data = yaml.safe_load(yaml.safe_dump(DATA))
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["local_llm"]["model"] = setting
    s = config.load(data, env={"QWEN_API_KEY": KEY})
    found = world()
    found = dataclasses.replace(found, files={**found.files, r.CONFIG_FILE: RICH.replace('model_name: "qwen2:7b"',
                                                                                          f'model_name: "{theirs}"')})
    problems = p.make(s, found, s.stage(0)).adoption.problems
    named = [line for line in problems if "migrate.local_llm.model" in line]
    assert bool(named) is refused, problems
    if refused:
        assert theirs in named[0] and setting in named[0]


@pytest.mark.parametrize("platform, words, image", [
    (None, "is not on this host", None), (("amd64", "arm64"), "built for amd64, this engine runs arm64", None),
    (("amd64", "amd64"), None, None), (("", ""), None, None),
    (None, None, "registry.example.com:5000/ops/litellm:1.108.7"),    # in a registry: Compose pulls it
])
def test_stage_2_checks_the_router_image_before_anything_changes(tmp_path, platform, words, image):
    s = settings(tmp_path, **({"router_image": image} if image else {}))
    found = dataclasses.replace(world(state={"stage": 1}), router_platform=platform)
    problems = p.make(s, found, s.stage(2)).adoption.problems
    assert (words is None and not problems) or any(words in line for line in problems), problems
    assert not p.make(s, dataclasses.replace(found, router_platform=None), s.stage(1)).adoption.problems
