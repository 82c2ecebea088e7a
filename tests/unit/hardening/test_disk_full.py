"""A disk that fills up in the middle of a stage move, on a real (small) tmpfs: the change is
rolled back to the previous files byte for byte and the operator is told what happened. Compose
is faked at the boundary: the subject is the files."""
import copy
import os
import subprocess

import pytest
import yaml

from targets.compose_env import apply, plan as planning, render
from core import config, envfile, files
from core.errors import MigrationError, VerifyFailed

from ...conftest import ROOT

KEY = "sk-disk-full-0123456789"


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root: run the suite as root (CI does)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory):
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_disk_full_mid_write_rolls_back_to_the_old_files(small_disk, monkeypatch):
    data = copy.deepcopy(yaml.safe_load((ROOT / "defaults.yaml").read_text()))
    data["migrate"]["deploy_dir"] = str(small_disk)
    settings = config.load(data, env={"QWEN_API_KEY": KEY})   # production: the key in the shell
    files.write_files(small_disk, render.render(settings, settings.stage(1)), render.SECRET_FILES)
    before = {name: (small_disk / name).read_bytes() for name in render.FILES}
    modes = {name: (small_disk / name).stat().st_mode for name in render.FILES}
    (small_disk / "state.json").write_text('{"stage": 1}\n')

    real_write = files.write_files

    def write_then_fill(directory, wanted, private=()):
        first = next(iter(wanted))  # one file lands, then the disk is full: a half-made change
        real_write(directory, {first: wanted[first]}, private)
        fill(directory)
        real_write(directory, wanted, private)

    ups = []
    monkeypatch.setattr(apply, "write_files", write_then_fill)
    monkeypatch.setattr(apply, "_up", lambda s: ups.append("up"))
    target = settings.stage(2)
    world = planning.World(files={n: before[n].decode() for n in before}, state={"stage": 1}, containers={},
                           local_container=None)
    plan = planning.make(settings, world, target, render.render(settings, target))
    out = []
    with pytest.raises(VerifyFailed) as err:
        apply.apply_plan(settings, target, apply.Outcome(plan), client=None, force=False, out=out.append)
    message = err.value.message
    assert "No space left on device" in message and "rolled back" in message, message
    assert KEY not in message and KEY not in "\n".join(out)
    assert {name: (small_disk / name).read_bytes() for name in render.FILES} == before
    assert {name: (small_disk / name).stat().st_mode for name in render.FILES} == modes
    assert envfile.parse((small_disk / "llm.env").read_text())["LLM_PROVIDER_WEIGHTS"] == "qwen:25,local:30"
    assert ups == ["up"]  # the old files were applied again
    assert not [p for p in small_disk.iterdir() if p.name.endswith(".tmp")], "temp files left behind"


def test_disk_full_before_anything_changed_says_so(small_disk, monkeypatch):
    data = copy.deepcopy(yaml.safe_load((ROOT / "defaults.yaml").read_text()))
    data["migrate"]["deploy_dir"] = str(small_disk)
    settings = config.load(data, env={"QWEN_API_KEY": KEY})
    files.write_files(small_disk, render.render(settings, settings.stage(1)), render.SECRET_FILES)
    before = {p.name: p.read_bytes() for p in small_disk.iterdir()}
    fill(small_disk)
    target = settings.stage(2)
    world = planning.World(files={}, state=None, containers={}, local_container=None)
    plan = planning.make(settings, world, target, render.render(settings, target), force=True)
    with pytest.raises(MigrationError) as err:
        apply.apply_plan(settings, target, apply.Outcome(plan), client=None, force=False, out=lambda *_: None)
    assert "No space left" in err.value.message and "not changed" in err.value.message
    assert {n: (small_disk / n).read_bytes() for n in before} == before
