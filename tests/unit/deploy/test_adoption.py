"""Adoption is a check, never a rewrite: the operator's docker-compose.yml must declare what the
stages need; what else it holds is listed and left alone; orphans, a changed base file and a
.env without COMPOSE_FILE are named in the plan."""
import copy

import pytest
import yaml

from core import config
from targets.compose_env import plan as planning
from targets.compose_env.render import fingerprints, render

from ...conftest import OPERATOR_BASE, OPERATOR_DOTENV, ROOT

DATA = yaml.safe_load((ROOT / "defaults.yaml").read_text())
SETTINGS = config.load(DATA, env={})   # production-like: no key anywhere
RICH = "x-logging: &logging {driver: json-file}\n" + OPERATOR_BASE + "  redis: {image: redis:7, profiles: [cache]}\n"


def plan(base=OPERATOR_BASE, dotenv=OPERATOR_DOTENV, settings=SETTINGS, containers=(), state=None, stage=2):
    wanted = render(settings, settings.stage(stage))
    running = {name: planning.Running(name=f"xiaozhi-{name}-1", fingerprint=fp, state="running", env={})
               for name, fp in fingerprints(wanted).items()}
    running.update({name: planning.Running(name=f"xiaozhi-{name}-1", fingerprint="", state="running", env={})
                    for name in containers})
    world = planning.World(files=wanted, state=state or {"stage": stage}, containers=running, local_container=None,
                           base=base, dotenv=dotenv)
    return planning.make(settings, world, settings.stage(stage), wanted)


def mapped(**names):
    data = copy.deepcopy(DATA)
    data["migrate"]["services"] = {role: {"compose_service": name} for role, name in names.items() if role != "local"}
    if "local" in names:
        data["migrate"]["local_llm"]["compose_service"] = names["local"]
    return config.load(data, env={})


PROBLEMS = [  # id, base file, settings, words the one problem must hold
    ("no base file", None, SETTINGS, ["does not exist", "never write one"]),
    ("not YAML", "services: [\n", SETTINGS, ["not a Compose file the toolkit can read"]),
    ("services is a list", "services: [vad]\n", SETTINGS, ["not a Compose file", "not a mapping"]),
    ("a role is missing", OPERATOR_BASE.replace("  asr: {image: xiaozhi/asr}\n", ""), SETTINGS,
     ["does not declare asr (the asr role)", "compose_service"]),
    ("the local LLM under another name", OPERATOR_BASE.replace("local-llm:", "ollama:"), SETTINGS,
     ["does not declare local-llm", "local_llm.compose_service"]),
    ("mapped, but to a name they do not use", OPERATOR_BASE, mapped(asr="whisper"),
     ["does not declare whisper (the asr role, mapped in config)"]),
    ("another container name", OPERATOR_BASE.replace("container_name: xiaozhi-local-llm", "container_name: ollama"),
     SETTINGS, ["container is ollama", "migrate.local_llm.container"]),
    ("no container name at all", OPERATOR_BASE.replace(", container_name: xiaozhi-local-llm", ""), SETTINGS,
     ["container is xiaozhi-local-llm-1"]),
    ("weights set in their environment", OPERATOR_BASE.replace(
        "depends_on: [local-llm]", "depends_on: [local-llm], environment: [LLM_PROVIDER_WEIGHTS=qwen:1,local:1]"),
     SETTINGS, ["sets LLM_PROVIDER_WEIGHTS", "which the stage's llm.env owns"]),
]


@pytest.mark.parametrize("base, settings, words", [p[1:] for p in PROBLEMS], ids=[p[0] for p in PROBLEMS])
def test_what_cannot_be_adopted_is_named(base, settings, words):
    found = plan(base=base, settings=settings)
    assert len(found.adoption.problems) == 1, found.adoption.problems
    for word in words:
        assert word in found.adoption.problems[0]
    assert "NOT ADOPTABLE" in planning.describe(found, "")


def test_their_names_mapped_in_config_are_adopted():
    base = OPERATOR_BASE.replace("asr:", "whisper:").replace("local-llm:", "ollama:").replace("[local-llm]", "[ollama]")
    assert plan(base=base, settings=mapped(asr="whisper", local="ollama")).adoption.problems == []


def test_their_own_services_and_extensions_are_left_alone_and_listed():
    found = plan(base=RICH)
    assert found.adoption.problems == [] and found.adoption.theirs == ["redis"]
    assert "left alone: redis" in planning.describe(found, "")


def test_compose_tags_anchors_and_extensions_are_read():
    base = RICH + "  tts2: {<<: *logging, image: x, environment: !reset {}}\n"
    assert plan(base=base).adoption.theirs == ["redis", "tts2"]


def test_a_container_no_service_declares_is_an_orphan_and_named():
    found = plan(base=RICH, containers=("redis", "old-cache"))
    assert found.orphans == ["xiaozhi-old-cache-1 (service old-cache)"]
    assert "ORPHAN: xiaozhi-old-cache-1" in planning.describe(found, "")


def test_the_local_llm_at_stage_3_is_not_an_orphan():
    assert plan(stage=3, containers=("local-llm",)).orphans == []


@pytest.mark.parametrize("dotenv, ok", [
    (OPERATOR_DOTENV, True), (None, False), ("TZ=x\n", False), ("COMPOSE_FILE=docker-compose.yml\n", False),
    ("COMPOSE_FILE=docker-compose.yml:docker-compose.migrate.yml\n", False),   # relative: cwd-dependent
])
def test_compose_file_in_dotenv_is_planned(dotenv, ok):
    found = plan(dotenv=dotenv)
    assert found.compose_file_ok is ok and found.nothing_to_do is ok
    assert ("COMPOSE_FILE will name docker-compose.yml and docker-compose.migrate.yml" in planning.describe(found, "")) is not ok


def test_more_compose_files_in_their_compose_file_line_are_refused_for_now():
    found = plan(dotenv="COMPOSE_FILE=docker-compose.yml:docker-compose.gpu.yml\n")
    assert "not supported yet" in found.adoption.problems[0] and "docker-compose.gpu.yml" in found.adoption.problems[0]


def test_a_changed_base_file_is_reported_and_planned_against():
    applied = planning.base_digest(OPERATOR_BASE)
    same = plan(state={"stage": 2, "base_sha256": applied})
    assert same.base_changed is None and same.nothing_to_do
    changed = plan(base=RICH, state={"stage": 2, "base_sha256": applied})
    assert changed.base_changed == (applied, planning.base_digest(RICH)) and not changed.nothing_to_do
    assert "docker-compose.yml changed since it was last applied" in planning.describe(changed, "")


def test_a_colon_in_the_deploy_path_is_refused():
    data = copy.deepcopy(DATA)
    data["migrate"]["deploy_dir"] = "/srv/xiao:zhi"
    found = plan(settings=config.load(data, env={}))
    assert any("':' in its path" in p for p in found.adoption.problems)


def test_a_symlinked_dotenv_is_never_written_and_the_plan_says_what_to_add(tmp_path):
    from adapters.compose import point_compose_file
    outside = tmp_path / "elsewhere.env"
    outside.write_text("TZ=Asia/Shanghai\n")
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / ".env").symlink_to(outside)
    point_compose_file(deploy)
    assert outside.read_text() == "TZ=Asia/Shanghai\n" and (deploy / ".env").is_symlink()
    data = copy.deepcopy(DATA)
    data["migrate"]["deploy_dir"] = str(deploy)
    settings = config.load(data, env={})
    world = planning.World(state={"stage": 2}, containers={}, local_container=None,
                           **planning.read_world_files(settings))
    found = planning.make(settings, world, settings.stage(2), render(settings, settings.stage(2)))
    text = planning.describe(found, "")
    assert f"add the line COMPOSE_FILE={deploy}/docker-compose.yml:{deploy}/docker-compose.migrate.yml" in text
    assert not found.compose_file_ok and found.dotenv_link


def test_their_dotenv_keeps_every_other_line_and_its_mode(tmp_path):
    from adapters.compose import point_compose_file
    (tmp_path / ".env").write_text("# theirs\nDB_PASSWORD='s3cr#t'\nCOMPOSE_FILE=docker-compose.yml\n")
    (tmp_path / ".env").chmod(0o600)
    point_compose_file(tmp_path)
    assert (tmp_path / ".env").read_text() == (f"# theirs\nDB_PASSWORD='s3cr#t'\nCOMPOSE_FILE={tmp_path}/docker-compose.yml:"
                                               f"{tmp_path}/docker-compose.migrate.yml\n")
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    (tmp_path / "fresh").mkdir()
    point_compose_file(tmp_path / "fresh")
    assert (tmp_path / "fresh" / ".env").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("theirs", [b"# theirs\r\nTZ=Asia/Shanghai\r\n", b"\xef\xbb\xbfTZ=x\r\nDB_PASS='a b'\r\n",
                                    b"TZ=x\r\nCOMPOSE_FILE=old.yml\r\n# end\r\n"])
def test_their_crlf_dotenv_stays_crlf_byte_for_byte(tmp_path, theirs):
    from adapters.compose import point_compose_file
    (tmp_path / ".env").write_bytes(theirs)
    point_compose_file(tmp_path)
    after = (tmp_path / ".env").read_bytes()
    line = f"COMPOSE_FILE={tmp_path}/docker-compose.yml:{tmp_path}/docker-compose.migrate.yml\r\n".encode()
    assert after.replace(line, b"") == theirs.replace(b"COMPOSE_FILE=old.yml\r\n", b"") and line in after


def test_a_service_with_no_container_is_said_to_be_created_not_restarted():
    wanted = render(SETTINGS, SETTINGS.stage(2))
    world = planning.World(files=wanted, state={"stage": 2}, containers={}, local_container=None, base=OPERATOR_BASE,
                           dotenv=OPERATOR_DOTENV)
    fresh = planning.describe(planning.make(SETTINGS, world, SETTINGS.stage(2), wanted), "")
    assert "recreate: nothing (no container restarts)" in fresh
    assert "create: asr, llm-service, local-llm, tts, vad (no container yet)" in fresh
    running = planning.World(files=wanted, state={"stage": 2}, containers={"vad": planning.Running(
        name="xiaozhi-vad-1", fingerprint="old", state="running", env={})}, local_container=None,
        base=OPERATOR_BASE, dotenv=OPERATOR_DOTENV)
    mixed = planning.describe(planning.make(SETTINGS, running, SETTINGS.stage(2), wanted), "")
    assert "recreate: vad (these containers restart)" in mixed and "create: asr, llm-service, local-llm, tts (" in mixed
