"""This target's sandbox on the host: upstream's full deployment as an operator has it before the
migration (their docker-compose.yml; the database initialised by upstream's schema and seed rows
plus their agents and devices on the local model; manager-api's server secret copied into
data/.config.yaml, as upstream's README has them do), brought up and healthy. Nothing of the
toolkit's is written: `invoke phase --stage 0` adopts it. rehearsal/sandbox_stack.py builds the
sandbox image and calls ``up``; the demo asks ``front``."""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

from adapters import compose, docker_api, mysql
from core import state
from core.config import Settings
from core.errors import MigrationError
from core.files import write_files
from core.services import LOCAL_LLM_SERVICE
from compose_stack.templating import environment
from litellm_router import image as router_image
from targets.xiaozhi_console import CONFIG_FILE, access as reaching, data_image
from targets.xiaozhi_console.settings import own

TEMPLATES = Path(__file__).resolve().parent / "templates"
ADOPTS_FIRST = True        # their deployment as found: the demo's stage 0 adopts it
DB_PASSWORD = "123456"     # upstream's docker-compose_all.yml's (the sandbox's database only)
WEB = "xiaozhi-esp32-server-web"   # the compose service of manager-api (the template's)


def compose_file(settings: Settings, sb) -> str:
    cs = own(settings)
    return environment(TEMPLATES).get_template("sandbox-console-compose.yml.j2").render(
        project=settings.project, image=sb.image, data_image=data_image.TAG, console=cs, bind=settings.bind,
        http_port=urlparse(cs.http_url).port or 80, manager_port=urlparse(cs.manager_url).port or 80,
        db_password=DB_PASSWORD, local_service=settings.compose_names[LOCAL_LLM_SERVICE],
        local_llm=settings.local_llm, extra_services=settings.extra_services)


def _secret(settings: Settings, client, bound: float = 60) -> str:
    """manager-api's server.secret, read as the toolkit reads the database (its container's address,
    the credentials in manager-api's environment), as the operator copies it from the console."""
    deadline = time.time() + bound
    while True:
        inspects = {name: docker_api.inspect_or_none(client, name) for name in reaching.containers(settings)}
        found = reaching.discover(settings, inspects, "manager-api: {url: x, secret: placeholder-for-discovery}")
        try:
            with mysql.connect(found.db) as session:
                rows = session.rows("SELECT param_value FROM sys_params WHERE param_code = 'server.secret'")
            value = rows[0]["param_value"] if rows else ""
            if value and value != "null":
                return value
        except (MigrationError, AttributeError):
            pass
        if time.time() > deadline:
            raise MigrationError("manager-api did not initialise server.secret", where=f"{settings.project} {WEB}",
                                 hint=f"read `docker logs {own(settings).web_container}`")
        time.sleep(1)


def up(settings: Settings, sb, *, out=print, wait_timeout: int = 180) -> None:
    client = docker_api.client()
    if not data_image.up_to_date(client, sb.image):
        data_image.build(sb.image, out=out)
    if not router_image.up_to_date(client):
        raise MigrationError(f"the router's image {router_image.TAG} is missing or older than its sources",
                             where="docker images", hint="run `invoke -f sandbox-console.yaml sandbox.build`")
    d = settings.deploy_dir
    d.mkdir(parents=True, exist_ok=True)
    if not (d / compose.BASE_FILE).exists():   # an existing file is the operator's by now: never overwritten
        write_files(d, {compose.BASE_FILE: compose_file(settings, sb)})
    argv = ["docker", "compose", "--project-name", settings.project, "--project-directory", str(d),
            "--file", str(d / compose.BASE_FILE)]
    local = settings.compose_names[LOCAL_LLM_SERVICE]
    done = compose.run(argv + ["run", "--rm", "--no-deps", "-T", local, "python3", "-m", "sandbox.store",
                               settings.local_llm.store_path, "--size-gb", str(sb.store_size_gb), "--if-empty"])
    out(done.stdout.strip())
    compose.run(argv + ["up", "-d", "--wait", "--wait-timeout", str(wait_timeout), WEB], timeout=wait_timeout + 60)
    if not (d / CONFIG_FILE).exists():
        secret = _secret(settings, client)
        write_files(d, {CONFIG_FILE: environment(TEMPLATES).get_template("sandbox-console-config.yaml.j2").render(
            secret=secret)})
        out(f"wrote the server's {CONFIG_FILE} with manager-api's server.secret; `invoke phase --stage 0` adopts "
            "the deployment")
    compose.run(argv + ["up", "-d", "--wait", "--wait-timeout", str(wait_timeout)], timeout=wait_timeout + 60)
    out(compose.run(argv + ["ps", "--all"]).stdout)


# The devices of the agents on the local model in image/initdb/003-operator.sql (3 per agent, agents 0-7).
LOCAL_DEVICES = tuple("02:5a:00:00:%02x:%02x" % (i // 3, i % 3) for i in range(24))


def front(settings: Settings) -> tuple[str, str, dict, str]:
    """Where a chat enters the sandbox: the emulated server's sandbox-only route, each chat from
    the next of the devices whose agents the migration moves."""
    return own(settings).http_url, "/_sandbox/chat", {"text": "你好", "macs": list(LOCAL_DEVICES)}, \
        "the server (from 24 devices in turn)"


def containers(settings: Settings) -> list[str]:
    """The containers named as production names them (the demo refuses a host where one belongs
    to another stack)."""
    return [settings.local_llm.container, *reaching.containers(settings)]


def build(sb, *, rebuild: bool = False, out=print) -> None:
    """The database-and-cache image, on the sandbox image (``sb``: the rehearsal's SandboxSettings),
    and the router's (stage 2, split: requests)."""
    data_image.build(sb.image, rebuild=rebuild, out=out)
    router_image.build(sb.local_base_image, rebuild=rebuild)


def report_lines(settings: Settings) -> list[str]:
    """The demo's report: moves with no restart."""
    moves = [e for e in state.audit_tail(settings.deploy_dir, 50) if e["event"] == "applied"]
    return [f"  {len(moves)} moves applied with no server restart (devices took each at their next conversation)"] \
        if moves else []
