import pytest
import yaml

from bench import command, report
from bench.load import Level, Sample, _token
from core import config
from core.errors import ConfigError

from ...conftest import ROOT

SETTINGS = config.load(yaml.safe_load((ROOT / "defaults.yaml").read_text()), env={})


@pytest.mark.parametrize("text, levels", [("1,8,20,50", [1, 8, 20, 50]), ("8, 1", [1, 8]), ("4", [4])])
def test_parse_levels(text, levels):
    assert command.parse_levels(text) == levels


@pytest.mark.parametrize("text", ["", "0,8", "a,b", "1,1000"])
def test_parse_levels_refuses(text):
    with pytest.raises(ConfigError):
        command.parse_levels(text)


def test_api_target_needs_a_key_and_names_the_variables():
    with pytest.raises(ConfigError, match="needs a key") as err:
        command.targets(SETTINGS, "both")
    assert "QWEN_API_KEY" in err.value.where
    assert [t.name for t in command.targets(SETTINGS, "local")] == ["local"]
    with pytest.raises(ConfigError):
        command.targets(SETTINGS, "gpu")


@pytest.mark.parametrize("kind, line, token", [
    ("local", '{"response":"你","done":false}', "你"),
    ("local", '{"response":"","done":true}', None),
    ("api", 'data: {"choices":[{"delta":{"content":"好"}}]}', "好"),
    ("api", "data: [DONE]", None),
    ("api", 'data: {"choices":[],"usage":{}}', None),
    ("api", ": keep-alive", None),
])
def test_token_parsing(kind, line, token):
    assert _token(kind, line) == token


def test_error_line_is_an_error():
    assert isinstance(_token("local", '{"error":"boom"}'), Exception)


def level(target, c, firsts):
    lv = Level(target, c, [Sample(True, f, f + 1.0, 11) for f in firsts] + [Sample(False, error="HTTP 500")])
    lv.wall_s, lv.resources = 2.0, {"model_cpu_percent": 75.0, "model_rss_peak": 4.5 * 2 ** 30, "host_cpu_percent": 80.0}
    return lv


def test_markdown_fills_the_seed_tables_with_measured_numbers(tmp_path):
    levels = [level("local", 1, [0.3, 0.31, 0.29]), level("local", 8, [0.4] * 3),
              level("api", 1, [0.8, 0.82, 0.81]), level("api", 8, [0.9] * 3)]
    text = report.markdown(levels, {"requests": 4, "urls": {"local": "http://l", "api": "http://a"}, "chart": "c.png"})
    assert "| first token p50 | 300 ms | 810 ms |" in text
    assert "| error rate | 25.0% | 25.0% |" in text
    assert "| local | 8 | 400 ms / 400 ms / 400 ms |" in text
    assert "| local model memory (peak RSS) | 4608 MB |" in text
    assert "![latency against concurrency](c.png)" in text
    png = report.chart(levels, tmp_path / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("processes, found", [
    ([("systemd", ["/sbin/init"]), ("ollama", ["/usr/local/bin/ollama", "serve"])], 2),
    ([("ollama", ["ollama", "runner", "--model", "x"]), ("ollama", ["ollama", "serve"])], 2),   # the runner is its child
    ([("python3", ["python3", "-m", "ollama_mock", "serve"])], None),   # another program's "serve"
    ([("ollama", None)], None),   # a process whose command line cannot be read
    ([], None),
], ids=["serve", "runner-first", "not-ollama", "unreadable", "none"])
def test_the_bench_measures_the_hosts_ollama_when_it_runs_on_the_host(monkeypatch, processes, found):
    from types import SimpleNamespace

    from bench import command
    procs = [SimpleNamespace(info={"pid": i + 1, "name": name, "cmdline": cmd}) for i, (name, cmd) in enumerate(processes)]
    monkeypatch.setattr(command.psutil, "process_iter", lambda attrs: iter(procs))
    assert command.host_ollama_pid() == found


def test_with_ollama_on_the_host_the_bench_samples_that_process_not_a_container(monkeypatch):
    from bench import command
    from core import config

    from ...conftest import ROOT
    data = yaml.safe_load((ROOT / "defaults.yaml").read_text())
    data["migrate"]["target"] = "xiaozhi-server"
    data["migrate"]["local_llm"].update(runs_on="host", url="http://host.docker.internal:11434")
    on_host = config.load(data, env={})
    monkeypatch.setattr(command, "host_ollama_pid", lambda: 4242)
    monkeypatch.setattr(command.docker_api, "client", lambda: pytest.fail("no container to look for"))
    assert command._local_pid(on_host) == 4242
