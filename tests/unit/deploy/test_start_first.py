"""Issue 24: whether a move may replace llm-service start-first, read off Compose's merged model
(`docker compose config --format json`, as Compose normalises every way of writing it), and
what the plan says either way."""
import pytest

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
