"""`invoke router.build` is the production task that builds the router stage 2 starts: its tag is
written once, its wheels are x86_64's (refused on another engine before anything is fetched), and
its dry run reads the engine only."""
import subprocess
import sys

import docker
import pytest

from core.errors import MigrationError
from litellm_router import image as router_image

from ...conftest import ROOT


class Images:
    def __init__(self, present):
        self.present = present

    def get(self, tag):
        if tag not in self.present:
            raise docker.errors.ImageNotFound(tag)
        return type("Image", (), {"labels": {router_image.LABEL: "old"}})()


class Engine:
    def __init__(self, arch="x86_64", present=()):
        self.images, self.arch = Images(set(present)), arch

    def info(self):
        return {"Architecture": self.arch}


@pytest.fixture
def no_fetch(monkeypatch):
    calls = []
    monkeypatch.setattr(router_image, "download", lambda out: calls.append("download"))
    monkeypatch.setattr(router_image.compose, "run", lambda argv, **kw: calls.append(argv[0:2]))
    return calls


@pytest.mark.parametrize("arch", ["aarch64", "armv7l", "ppc64le"])
def test_another_engine_is_refused_before_anything_is_fetched_or_built(no_fetch, arch):
    with pytest.raises(MigrationError) as err:
        router_image.build(client=Engine(arch))
    assert "pinned wheels are for amd64" in err.value.what and "router_image" in err.value.hint
    assert no_fetch == []


def test_the_dry_run_says_what_it_would_do_and_does_nothing(no_fetch):
    text = router_image.describe(client=Engine(present={router_image.DEFAULT_BASE}))
    assert f"would build {router_image.TAG} from {router_image.DEFAULT_BASE} (present)" in text
    assert "missing: built first with debootstrap" in router_image.describe(client=Engine())
    assert no_fetch == []


def test_the_router_tag_is_written_in_one_place():
    sources = [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and "tests" not in p.parts]
    holding = sorted(str(p.relative_to(ROOT)) for p in sources if "xiaozhi-litellm:" in p.read_text())
    assert holding == ["litellm_router/__init__.py"]


def test_the_task_is_listed_with_its_help():
    listed = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    assert "router.build" in listed and "Build the router image" in listed
