"""How `invoke health` judges the upstream server's facts at each stage (pure), and the engine's
log framing it reads them through."""
import pytest
import yaml

from adapters.dockerd import demux
from checks.model import Status
from core import config
from targets.xiaozhi_server import health as h, stages
from targets.xiaozhi_server.facts import Seen

from ...conftest import ROOT

DATA = yaml.safe_load((ROOT / "defaults.yaml").read_text())
DATA["migrate"]["target"] = "xiaozhi-server"
SETTINGS = config.load(DATA, env={})
OK_HTTP = h.Answer("u", 200, "Server is running")
HEALTHY = Seen("running", health="healthy")


def facts(initialised=("OllamaLLM",), failures=(), router=None, selected="OllamaLLM", weights=None,
          http=OK_HTTP, ota=h.Answer("u", 200, "{}"), state="running"):
    return {"server.http": http, "server.ota": ota,
            "server": h.Server(container=Seen(state, 1.0), initialised=list(initialised),
                               failures=list(failures), router=router),
            "server.files": h.Files(selected=selected, weights=weights)}


def statuses(n, **kw):
    return {r.name: r.status for r in h.judge(SETTINGS, SETTINGS.stage(n), facts(**kw))}


R, A = stages.ROUTER_ENTRY, stages.API_ENTRY
SPLIT = {"local": 30, "qwen": 70}


@pytest.mark.parametrize("n, kw, name, status", [
    (0, {}, "server.llm", Status.OK),
    (0, {"failures": ["初始化组件失败: LLM x"]}, "server.llm", Status.CRITICAL),
    (0, {"initialised": ()}, "server.llm", Status.WARNING),
    (0, {"initialised": ("ChatGLMLLM",)}, "server.llm", Status.WARNING),   # config changed, no restart
    (0, {"state": "exited"}, "container.xiaozhi-esp32-server", Status.CRITICAL),
    (0, {"http": h.Answer("u", error="refused")}, "server.http", Status.CRITICAL),
    (0, {"ota": h.Answer("u", 404, "")}, "server.ota", Status.CRITICAL),
    (2, {"initialised": (R,), "selected": R, "weights": SPLIT, "router": HEALTHY}, "router", Status.OK),
    (2, {"initialised": (R,), "selected": R, "weights": SPLIT, "router": Seen("running", health="starting")},
     "router", Status.CRITICAL),
    (2, {"initialised": (R,), "selected": R, "weights": SPLIT}, "router", Status.CRITICAL),
    (3, {"initialised": (A,), "selected": A, "router": HEALTHY}, "router", Status.WARNING),   # left over
    (2, {"initialised": (R,), "selected": R, "weights": {"local": 50, "qwen": 50}, "router": HEALTHY}, "drift",
     Status.WARNING),
    (3, {"initialised": (A,), "selected": "OllamaLLM"}, "drift", Status.WARNING),
    (3, {"initialised": (A,), "selected": A}, "drift", Status.OK),
])
def test_judgement(n, kw, name, status):
    assert statuses(n, **kw)[name] is status


def test_no_router_result_where_none_is_wanted_or_found():
    assert "router" not in statuses(1)


@pytest.mark.parametrize("raw, text", [
    (b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n\x02\x00\x00\x00\x00\x00\x00\x04err\n", "hello\nerr\n"),
    ("初始化组件: llm成功 X\n".encode(), "初始化组件: llm成功 X\n"),   # a TTY: no framing
    (b"", ""),
])
def test_demux(raw, text):
    assert demux(raw) == text
