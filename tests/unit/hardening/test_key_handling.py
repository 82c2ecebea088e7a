"""Key handling: where the key is found (production keeps it in the shell or the deployed file,
never in config), which characters it may hold, and that no output, diff or repr shows it."""
import copy
import os

import pytest
import yaml

from targets.compose_env import plan as planning
from core import config, envfile, secrets
from core.errors import ConfigError

from ...conftest import ROOT

BASE = yaml.safe_load((ROOT / "defaults.yaml").read_text())
DEPLOYED = "sk-deployed-0123456789abcdef"


def production(tmp_path):
    """defaults.yaml as production runs it: no key in any file but the deployed llm.env."""
    data = copy.deepcopy(BASE)
    data["migrate"]["deploy_dir"] = str(tmp_path)
    return data


def deploy_env(tmp_path, key=DEPLOYED, mode=0o600):
    path = tmp_path / envfile.ENV_FILE
    path.write_text(f"# stage 2\nLLM_PROVIDER_WEIGHTS=qwen:70,local:30\nQWEN_API_KEY={envfile.quote(key)}\n")
    os.chmod(path, mode)
    return path


# (environment, deployed file mode or None, expected key, words in the source)
SOURCES = [
    ({"QWEN_API_KEY": "sk-shell-1"}, 0o600, "sk-shell-1", "QWEN_API_KEY"),
    ({"DASHSCOPE_API_KEY": "sk-shell-2"}, 0o600, "sk-shell-2", "DASHSCOPE_API_KEY"),
    ({}, 0o600, DEPLOYED, "deployed"),                       # cron: nothing in the environment
    ({}, 0o640, "", "readable by group/others"),            # a file others can read is not trusted
    ({}, 0o604, "", "readable by group/others"),
    ({}, None, "", "nothing deployed"),
]


@pytest.mark.parametrize("env, mode, key, words", SOURCES)
def test_where_the_key_comes_from(tmp_path, env, mode, key, words):
    if mode is not None:
        deploy_env(tmp_path, mode=mode)
    settings = config.load(production(tmp_path), env=env)
    assert settings.api_key == key and words in settings.key_source
    assert DEPLOYED not in settings.key_source


def test_a_symlinked_env_file_is_never_followed(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    deploy_env(real)
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / envfile.ENV_FILE).symlink_to(real / envfile.ENV_FILE)
    settings = config.load(production(tmp_path / "live"), env={})
    assert settings.api_key == "" and "symlink" in settings.key_source


def test_the_sandbox_key_in_config_wins(tmp_path):
    data = production(tmp_path)
    data["migrate"]["api"]["key"] = "sk-sandbox-abc"
    deploy_env(tmp_path)
    assert config.load(data, env={"QWEN_API_KEY": "sk-shell"}).api_key == "sk-sandbox-abc"


@pytest.mark.parametrize("bad, position", [
    ("\u200bsk-0123456789", 1),      # a zero-width space pasted from a web page
    ("sk-0123\n456789", 8),
    ("sk-0123\x1b[0m", 8),
    ("sk-é0123456789", 4),
])
def test_a_key_with_a_character_no_key_has_is_refused_by_position(tmp_path, bad, position):
    with pytest.raises(ConfigError) as err:
        config.load(production(tmp_path), env={"QWEN_API_KEY": bad})
    assert f"character {position}" in err.value.message
    assert bad.strip() not in err.value.message and "0123456789" not in err.value.message


@pytest.mark.parametrize("key", ["sk-it's-a\\key-0001", "sk-$HOME#x \"q\"-0002", "sk-plain-0123456789"])
def test_redact_masks_every_printed_form(key):
    secrets.register(key)
    for text in (key, repr(key), ascii(key), str([key]), repr({"k": key})):
        assert key not in secrets.redact(text) and repr(key)[1:-1] not in secrets.redact(text), text


def test_diffs_mask_both_sides_and_say_when_the_key_changes():
    old = "LLM_PROVIDER_WEIGHTS=qwen:25,local:30\nQWEN_API_KEY=sk-old-never-known-1234\n"
    new = "LLM_PROVIDER_WEIGHTS=qwen:70,local:30\nQWEN_API_KEY=sk-new-0123456789\n"
    text = planning.FileChange("llm.env", old, new).diff("sk-new-0123456789")
    assert "sk-old" not in text and "sk-new" not in text
    assert "-QWEN_API_KEY=<redacted>" in text and "+QWEN_API_KEY=<redacted: a different key>" in text
    for key in ("", "sk-old-never-known-1234"):
        same = planning.FileChange("llm.env", old, old.replace("25", "70")).diff(key)
        assert "-QWEN_API_KEY" not in same and "+QWEN_API_KEY" not in same  # an unchanged key is no change
        assert "sk-old" not in same


def test_output_streams_mask_registered_keys(capsys):
    import tasks
    from invoke import MockContext
    secrets.register("sk-streamed-0123456789")

    @tasks.converted
    def noisy(c):
        print("the key is", repr("sk-streamed-0123456789"))
        import sys
        print("sk-streamed-0123456789", file=sys.stderr)
    noisy(MockContext())
    out = capsys.readouterr()
    assert "sk-streamed" not in out.out + out.err and "<redacted" in out.out


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_a_keyless_shell_never_blanks_the_deployed_key(tmp_path, stage):
    """`sudo` drops QWEN_API_KEY; `rollback --to 0` then rendered `QWEN_API_KEY=` while stage 0
    still sends 25 of every 55 chats to the API."""
    from targets.compose_env import render
    from engine.move import preflight
    deploy_env(tmp_path)
    settings = config.load(production(tmp_path), env={})
    assert envfile.parse(render.render(settings, settings.stage(stage))["llm.env"])["QWEN_API_KEY"] == DEPLOYED
    (tmp_path / envfile.ENV_FILE).unlink()
    keyless = config.load(production(tmp_path), env={})
    with pytest.raises(ConfigError) as err:
        preflight(keyless, keyless.stage(stage), dry_run=True, secret_files=render.SECRET_FILES)
    assert "no key was found" in err.value.message and "nothing was changed" in err.value.message


@pytest.mark.parametrize("text, masked", [
    ("Bearer sk-0123456789abcdef0123", "Bearer <redacted>"),
    ("key=sk-0123456789abcdef0123, next", "key=<redacted>, next"),
    ("  export DASHSCOPE_API_KEY='anything at all'", "  export DASHSCOPE_API_KEY=<redacted>"),
    ("a | QWEN_API_KEY: \"x y\" | b", "a | QWEN_API_KEY: <redacted> | b"),
    ("sk-short is a word; task-sk-0123456789abcdef0123", "sk-short is a word; task-<redacted>"),
    ("nothing secret here: stage 2 applied", "nothing secret here: stage 2 applied"),
])
def test_text_from_another_host_has_anything_shaped_like_a_key_masked(text, masked):
    """Another host's output: its key is not this run's, so it is masked by its shape."""
    assert secrets.mask_key_shapes(text) == masked
