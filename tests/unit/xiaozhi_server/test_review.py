"""The review copies of the xiaozhi-server target (compose/xiaozhi-server/stage-N/): what each
stage makes of the example folder, the keys redacted even when the shell has one."""
import yaml

from targets.xiaozhi_server import review, stages


def test_each_stage_shows_what_it_makes_of_the_example_folder(monkeypatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-in-the-shell-123456")   # never read: the copies are redacted
    copies = {str(path): text for path, text in review.expected().items()}
    assert "sk-in-the-shell-123456" not in "".join(copies.values())
    selected = {n: yaml.safe_load(copies[f"xiaozhi-server/stage-{n}/data/.config.yaml"])["selected_module"]["LLM"]
                for n in range(4)}
    assert selected == {0: "OllamaLLM", 1: "OllamaLLM", 2: stages.ROUTER_ENTRY, 3: stages.API_ENTRY}
    router = yaml.safe_load(copies["xiaozhi-server/stage-2/litellm.yaml"])
    assert sorted(m["litellm_params"].get("weight") for m in router["model_list"][:2]) == [30, 70]
    assert review.KEY in copies["xiaozhi-server/stage-2/router.env"] and "xiaozhi-server/stage-3/router.env" not in copies
    cutover = yaml.safe_load(copies["xiaozhi-server/stage-3/docker-compose.migrate.yml"])["services"]
    assert cutover["xiaozhi-esp32-server"]["depends_on"]["ollama"]["required"] is False


def test_their_lines_are_kept_in_every_copy():
    found = (review.FOUND / "data" / ".config.yaml").read_text()
    theirs = [line for line in found.splitlines() if "auth_key" in line or line.startswith("#")]
    for path, text in review.expected().items():
        if path.name == ".config.yaml":
            assert all(line in text.splitlines() for line in theirs), path
