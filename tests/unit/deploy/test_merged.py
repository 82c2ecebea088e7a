"""The merged model as the plan shows it: the toolkit's own variables with their values (a key
never: only that it differs), and of everything of theirs only the names of what changes."""
import pytest

from targets.compose_env import merged

OWNED = {"llm-service": {"LLM_PROVIDER_WEIGHTS", "QWEN_API_KEY", "LLM_MAX_CONCURRENT"}, "vad": {"VAD_MAX_CONCURRENT"}}
# Their values, each in a place a name-based mask misses (the hostile review's list).
THEIRS = {
    "environment": {"DATABASE_URL": "postgres://app:Pg-S3cret!@db/app", "DB_PASS": "Pg-S3cret!",
                    "SMTP_PASS": "Pg-S3cret!"},
    "command": ["--token", "Pg-S3cret!"],
    "build": {"context": ".", "args": {"NPM_AUTH": "Pg-S3cret!"}},
    "labels": {"traefik.http.middlewares.auth.basicauth.users": "admin:Pg-S3cret!"},
}


def model(weights="qwen:25,local:30", key="sk-old-111111", **theirs):
    env = {"LLM_PROVIDER_WEIGHTS": weights, "QWEN_API_KEY": key, **theirs.pop("environment", {})}
    content = theirs.pop("content", "password=Pg-S3cret!")
    return {"services": {"llm-service": {"environment": env, "image": "x", **theirs}},
            "configs": {"c": {"content": content}}}


@pytest.mark.parametrize("field", sorted(THEIRS))
def test_a_value_of_theirs_is_never_shown_only_that_it_changes(field):
    before = model(**{field: THEIRS[field]})
    changed = {k: v + "-changed" if isinstance(v, str) else v for k, v in THEIRS["environment"].items()} \
        if field == "environment" else {"changed": True}
    after = model(weights="qwen:70,local:30", key="sk-new-222222", **{field: changed})
    text = merged.diff(before, after, OWNED)
    assert "Pg-S3cret" not in text and "sk-old" not in text and "sk-new" not in text
    assert 'LLM_PROVIDER_WEIGHTS: "qwen:25,local:30" -> "qwen:70,local:30"' in text
    assert "QWEN_API_KEY: set -> set (a different value, not shown)" in text
    assert "changed, values not shown: " + (", ".join(f"environment {v}" for v in sorted(THEIRS["environment"]))
                                            if field == "environment" else field) in text


def test_their_change_to_the_rest_of_the_model_is_named_not_shown():
    before, after = model(), model(content="password=Other-S3cret")
    text = merged.diff(before, after, OWNED)
    assert text == "the rest of the model: changed, values not shown: configs\n"


def test_the_key_is_redacted_even_under_an_innocent_owned_name():
    text = merged.diff(model(), model(NOTE="x", environment={"LLM_MAX_CONCURRENT": "sk-real-0123456789"}),
                       OWNED, key="sk-real-0123456789")
    assert "sk-real" not in text


def test_a_service_leaving_is_one_line_and_nothing_changing_is_nothing():
    before = {"services": {"vad": {"environment": {"VAD_MAX_CONCURRENT": "24"}, "image": "x"},
                           "local-llm": {"image": "ollama", "ports": ["11434"]}}, "volumes": {"ollama": {}}}
    after = {"services": {"vad": {"environment": {"VAD_MAX_CONCURRENT": "32"}, "image": "x"}}}
    text = merged.diff(before, after, OWNED)
    assert 'services.vad:\n  VAD_MAX_CONCURRENT: "24" -> "32"\n' in text
    assert "services.local-llm: leaves the merged model" in text and "11434" not in text
    assert "the rest of the model: changed, values not shown: volumes" in text
    assert merged.diff(before, before, OWNED) == ""
