"""Issue 24: whether a move may replace llm-service start-first, read off Compose's merged model
(`docker compose config --format json`, as Compose normalises every way of writing it), what the
plan says either way, and the replacement's steps against a fake engine (which containers are
old, what happens when the new one fails, a stopped or unhealthy one)."""
import pytest

from core.errors import CommandError, DockerError, MigrationError
from targets.compose_env import replace

from targets.compose_env import plan as planning
from targets.compose_env.replace import unguarded, why_not

from .test_plan import plan_for, world_at


def model(**block):
    return {"services": {"llm-service": {"image": "their/llm:1", **block}, "vad": {"image": "v"}}}


WHY_NOT = [
    # id, the service's block in the merged model, words of the reason ("" : start-first)
    ("reached by name only", {}, ""),
    ("an exposed port, not published", {"expose": ["8000"]}, ""),
    ("a container port Docker maps to a random host port", {"ports": [{"mode": "ingress", "target": 8000,
                                                                       "protocol": "tcp"}]}, ""),
    ("their own networks and aliases", {"networks": {"backend": {"aliases": ["llm"]}}}, ""),
    ("container_name", {"container_name": "xiaozhi-llm"}, "container_name: xiaozhi-llm"),
    ("a published host port", {"ports": [{"target": 8000, "published": "18000", "protocol": "tcp"}]},
     "publishes host port 18000"),
    ("a published range, IPv6 bind", {"ports": [{"target": 8000, "published": "18000-18001", "host_ip": "::1"}]},
     "publishes host port 18000-18001"),
    ("the host's network", {"network_mode": "host"}, "network_mode: host"),
    ("another container's network", {"network_mode": "service:front"}, "network_mode: service:front"),
    ("a fixed address on a network", {"networks": {"backend": {"ipv4_address": "172.30.0.9"}}},
     "fixed ipv4_address on network backend"),
    ("a fixed IPv6 address", {"networks": {"default": None, "v6": {"ipv6_address": "fd00::9"}}}, "fixed ipv6_address"),
    ("a fixed MAC address", {"mac_address": "02:42:ac:11:00:02"}, "mac_address"),
]


@pytest.mark.parametrize("block, words", [s[1:] for s in WHY_NOT], ids=[s[0] for s in WHY_NOT])
def test_why_not(block, words):
    reason = why_not(model(**block), "llm-service")
    assert (words in reason and reason) if words else reason == ""


@pytest.mark.parametrize("hostile", [{}, {"services": None}, {"services": {"vad": {}}}])
def test_a_model_without_the_service_says_so(hostile):
    assert "not in the merged model" in why_not(hostile, "llm-service")


def test_the_plan_says_which_way_each_replaced_service_goes():
    plan = plan_for(world_at(1), 2)
    assert plan.recreate == ["llm-service"] and plan.running >= {"llm-service", "vad"}
    plan.replacing = {"llm-service": ""}
    text = planning.describe(plan, "sk-test-123456")
    assert "llm-service: start-first: a new container with the stage's settings must be healthy" in text
    plan.replacing = {"llm-service": why_not(model(container_name="xiaozhi-llm"), "llm-service")}
    text = planning.describe(plan, "sk-test-123456")
    assert "llm-service: stop-first (no llm-service answers while the new one starts): your file gives it " \
           "container_name: xiaozhi-llm" in text


def test_a_stopped_service_is_not_running():
    plan = plan_for(world_at(2, stopped=("llm-service",)), 2)
    assert "llm-service" in plan.recreate and "llm-service" not in plan.running


def test_an_image_healthcheck_seen_on_the_running_container_counts():
    assert unguarded(model(), "llm-service", observed_health="healthy") == ""
    assert "has no healthcheck" in unguarded(model(healthcheck={"disable": True}), "llm-service", "healthy")


def test_duplicates_left_by_a_stopped_move_are_recreated_and_named():
    world = world_at(2)
    world = type(world)(**{**world.__dict__, "duplicates": {"llm-service": ["p-llm-service-1", "p-llm-service-2"]}})
    plan = plan_for(world, 2)
    assert plan.recreate == ["llm-service"] and not plan.nothing_to_do
    assert "note: llm-service has 2 containers (p-llm-service-1, p-llm-service-2): a move stopped half-way" \
           in planning.describe(plan, "k")


class Engine:
    """The engine as replace.py sees it through adapters/docker_api and adapters/compose: a list
    of the service's containers; `compose up --scale` adds what ``created`` says."""

    def __init__(self, monkeypatch, *containers, created=(("new-2", "running", "healthy", "FP"),), fails=False,
                 stop_fails=False, remove_fails=False):
        self.containers = [self.attrs(*c) for c in containers]
        self.created, self.fails, self.calls = [self.attrs(*c) for c in created], fails, []
        self.stop_fails, self.remove_fails = stop_fails, remove_fails
        monkeypatch.setattr(replace.docker_api, "project_inspects", lambda c, p, s=None, all=True: list(self.containers))
        monkeypatch.setattr(replace.docker_api, "stop", self.stop)
        monkeypatch.setattr(replace.docker_api, "remove", self.remove)
        monkeypatch.setattr(replace.docker_api, "logs_tail", lambda c, name, n=20: f"boot failed, key {KEY}\n")
        monkeypatch.setattr(replace.compose, "run", self.run)

    @staticmethod
    def attrs(name, status, health, fp):
        return {"Name": "/" + name, "State": {"Status": status, **({"Health": {"Status": health}} if health else {})},
                "Config": {"Labels": {"xiaozhi.migrate.fingerprint": fp}}}

    def stop(self, c, name, t):
        self.calls.append(("stop", name, t))
        if self.stop_fails:
            raise DockerError("stopping it failed: 409 Conflict", where=f"container {name}")

    def remove(self, c, name, force=True):
        self.calls.append(("remove", name))
        if self.remove_fails:
            raise DockerError("removing it failed: 500", where=f"container {name}")
        self.containers = [a for a in self.containers if a["Name"] != "/" + name]

    def run(self, argv, timeout=600, check=True):
        self.calls.append(("compose", argv[argv.index("--scale") + 1]))
        self.containers += self.created
        if self.fails:
            raise CommandError(argv, 1, "container p-llm-service-2 is unhealthy")


KEY = "sk-test-123456"


@pytest.fixture
def settings():
    from .test_plan import SETTINGS
    return SETTINGS


def test_the_old_one_is_stopped_only_after_the_new_one_came_up(monkeypatch, settings):
    engine = Engine(monkeypatch, ("old-1", "running", "healthy", "OLD"))
    lines = []
    assert replace.start_first(settings, None, "llm-service", "FP", 35, lines.append) is True
    assert engine.calls == [("compose", "llm-service=2"), ("stop", "old-1", 35), ("remove", "old-1")]
    assert any("new-2 healthy after" in line for line in lines)


def test_a_new_one_that_fails_is_removed_with_its_logs_shown_and_the_old_one_left(monkeypatch, settings):
    """Stopped first (Docker's DNS names it before it is healthy, so it may be answering), for the
    time one request can take, not the longest grace of their services (a database's 10 min)."""
    engine = Engine(monkeypatch, ("old-1", "running", "healthy", "OLD"),
                    created=(("new-2", "running", "unhealthy", "FP"),), fails=True)
    lines = []
    with pytest.raises(MigrationError) as err:
        replace.start_first(settings, None, "llm-service", "FP", 600, lines.append)
    assert engine.calls == [("compose", "llm-service=2"), ("stop", "new-2", settings.stop_grace_s), ("remove", "new-2")]
    assert settings.stop_grace_s < 600
    assert any("the new one did not come up (command exited 1)" in line and "stopping new-2" in line for line in lines)
    text = err.value.message
    assert "the new llm-service did not come up: command exited 1" in text and "is unhealthy" in text
    assert "old-1 kept running on the settings before" in text and "new-2 were removed" in text
    assert "boot failed" in text and KEY not in text


@pytest.mark.parametrize("stop_fails, remove_fails, said, hint", [
    (True, False, "new-2 did not stop cleanly: stopping it failed: 409 Conflict", "new-2 were removed"),
    (False, True, "new-2 could not be removed: removing it failed: 500", "remove new-2 with `docker rm -f`"),
    (True, True, "new-2 could not be removed", "remove new-2 with `docker rm -f`"),
])
def test_a_new_one_that_will_not_go_is_said_and_the_first_failure_stays_the_one_raised(
        monkeypatch, settings, stop_fails, remove_fails, said, hint):
    engine = Engine(monkeypatch, ("old-1", "running", "healthy", "OLD"),
                    created=(("new-2", "running", "unhealthy", "FP"),), fails=True, stop_fails=stop_fails,
                    remove_fails=remove_fails)
    with pytest.raises(MigrationError, match="did not come up: command exited 1") as err:
        replace.start_first(settings, None, "llm-service", "FP", 35, lambda line: None)
    assert engine.calls[-2:] == [("stop", "new-2", 35), ("remove", "new-2")], "the removal is tried whatever the stop did"
    assert said in err.value.message and hint in err.value.message


def test_a_new_one_not_on_the_stages_settings_is_refused_before_the_old_one_stops(monkeypatch, settings):
    engine = Engine(monkeypatch, ("old-1", "running", "healthy", "OLD"), created=(("new-2", "running", "healthy", "OLD"),))
    with pytest.raises(MigrationError, match="Compose started 1 container"):
        replace.start_first(settings, None, "llm-service", "FP", 35, lambda line: None)
    assert ("stop", "old-1", 35) not in engine.calls and ("remove", "new-2") in engine.calls


@pytest.mark.parametrize("containers, words", [
    ((("old-1", "running", "healthy", "OLD"), ("old-2", "exited", "", "OLD")), "old-2 is not running"),
    ((("old-1", "running", "unhealthy", "OLD"),), "old-1 is not healthy now"),
    ((("old-1", "running", "starting", "OLD"),), "old-1 is not healthy now"),
])
def test_a_stopped_or_ailing_container_leaves_it_to_compose(monkeypatch, settings, containers, words):
    engine = Engine(monkeypatch, *containers)
    lines = []
    assert replace.start_first(settings, None, "llm-service", "FP", 35, lines.append) is False
    assert engine.calls == [] and words in lines[0] and "stop-first after all" in lines[0]


def test_a_move_stopped_half_way_leaves_the_new_one_and_stops_the_old(monkeypatch, settings):
    engine = Engine(monkeypatch, ("old-1", "running", "healthy", "OLD"), ("new-2", "running", "healthy", "FP"))
    assert replace.start_first(settings, None, "llm-service", "FP", 35, lambda line: None) is True
    assert engine.calls == [("stop", "old-1", 35), ("remove", "old-1")]


def test_a_container_already_on_the_stage_is_left_alone(monkeypatch, settings):
    engine = Engine(monkeypatch, ("cur-1", "running", "", "FP"))
    assert replace.start_first(settings, None, "llm-service", "FP", 35, lambda line: None) is True
    assert engine.calls == []


@pytest.mark.parametrize("check, warned", [
    ({"test": ["CMD", "curl", "-f", "http://127.0.0.1:8000/health"], "interval": "5s"}, False),
    ({"test": ["CMD-SHELL", "wget -q -O- localhost:8000"]}, False),
    (None, True),
    ({"test": ["NONE"]}, True),
    ({"disable": True}, True),
])
def test_start_first_without_a_healthcheck_is_said(check, warned):
    block = {"healthcheck": check} if check is not None else {}
    words = unguarded(model(**block), "llm-service")
    assert ("has no healthcheck" in words) is warned
    plan = plan_for(world_at(1), 2)
    plan.replacing, plan.replace_warnings = {"llm-service": ""}, ({"llm-service": words} if words else {})
    assert ("warning: llm-service has no healthcheck" in planning.describe(plan, "k")) is warned


def test_a_new_one_compose_calls_up_while_it_is_still_starting_is_waited_for_then_refused(monkeypatch, settings):
    """`compose up --wait` has returned 0 with the new container still `starting`: the engine's own
    word is waited for within wait_timeout, and the old one is never told to stop before it."""
    monkeypatch.setattr(replace.time, "sleep", lambda s: None)
    clock = iter(range(0, 10_000, 1))
    monkeypatch.setattr(replace.time, "monotonic", lambda: float(next(clock)))
    engine = Engine(monkeypatch, ("old-1", "running", "healthy", "OLD"), created=(("new-2", "running", "starting", "FP"),))
    with pytest.raises(MigrationError) as err:
        replace.start_first(settings, None, "llm-service", "FP", 35, lambda line: None)
    assert f"Compose said it was up, but after {settings.gates.wait_timeout} s new-2 is starting" in err.value.message
    assert ("stop", "old-1", 35) not in engine.calls and engine.calls[-2:] == [("stop", "new-2", 35), ("remove", "new-2")]


def test_a_new_one_that_turns_healthy_while_waited_for_replaces_the_old(monkeypatch, settings):
    monkeypatch.setattr(replace.time, "sleep", lambda s: None)
    engine = Engine(monkeypatch, ("old-1", "running", "healthy", "OLD"), created=(("new-2", "running", "starting", "FP"),))
    later = engine.attrs("new-2", "running", "healthy", "FP")
    reads = []

    def inspects(c, p, s=None, all=True):
        reads.append(1)
        if len(reads) > 3:   # the fourth read: its healthcheck passed
            engine.containers = [later if a["Name"] == "/new-2" else a for a in engine.containers]
        return list(engine.containers)
    monkeypatch.setattr(replace.docker_api, "project_inspects", inspects)
    assert replace.start_first(settings, None, "llm-service", "FP", 35, lambda line: None) is True
    assert engine.calls == [("compose", "llm-service=2"), ("stop", "old-1", 35), ("remove", "old-1")]
