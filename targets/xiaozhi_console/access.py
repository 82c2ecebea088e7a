"""How the toolkit reaches the deployment's database, cache and manager-api, found as an operator
would: MySQL and Redis at their containers' addresses on the project's network (or the hosts the
settings give), their credentials in the containers' environment as upstream's compose file sets
it (manager-api's ``SPRING_DATASOURCE_DRUID_*`` and ``SPRING_DATA_REDIS_PASSWORD``, the
database's ``MYSQL_ROOT_PASSWORD``) unless an owner-only file gives them, and the server secret in
the server's data/.config.yaml (``manager-api.secret``, as the server sends it). Pure: the caller
reads the containers (the SDK for a move, the engine's API for health) and the file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from adapters import mysql, rediscache
from core.secrets import read_private, register
from targets.xiaozhi_console import CONFIG_FILE
from targets.xiaozhi_console.settings import own


@dataclass(frozen=True)
class Access:
    db: mysql.Address | None
    cache: rediscache.Address | None
    secret: str = field(default="", repr=False)
    problems: tuple[str, ...] = ()


def environment(attrs: dict | None) -> dict[str, str]:
    """A container's environment as it runs (its compose file's values, interpolated)."""
    found = {}
    for item in ((attrs or {}).get("Config") or {}).get("Env") or []:
        name, _, value = item.partition("=")
        found[name] = value
    return found


def address(attrs: dict | None, near: dict | None = None) -> str:
    """The container's address on a network it shares with ``near`` (manager-api), else its first."""
    networks = (((attrs or {}).get("NetworkSettings") or {}).get("Networks") or {})
    shared = set((((near or {}).get("NetworkSettings") or {}).get("Networks") or {}))
    ordered = sorted(networks, key=lambda n: (n not in shared, n))
    return next((networks[n].get("IPAddress") for n in ordered if networks[n].get("IPAddress")), "")


def secret_of(text: str | None) -> tuple[str, str]:
    """The server secret in data/.config.yaml, and why there is none ('' when found)."""
    if text is None:
        return "", f"{CONFIG_FILE} is missing: the server of a full deployment reads manager-api's url and secret there"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return "", f"{CONFIG_FILE} is not YAML"
    api = (data or {}).get("manager-api") if isinstance(data, dict) else None
    if not isinstance(api, dict) or not api.get("url"):
        return "", (f"{CONFIG_FILE} has no manager-api.url: this server is not run from the web console "
                    "(use migrate.target: xiaozhi-server)")
    secret = str(api.get("secret") or "")
    if not secret or "你" in secret or secret == "null":
        return "", f"{CONFIG_FILE} has no manager-api.secret (copy server.secret from the console's parameters)"
    return secret, ""


def _credentials(path: str) -> tuple[dict, str]:
    text, problem = read_private(Path(path).expanduser())
    if text is None:
        return {}, f"migrate.xiaozhi_console.credentials_file: {problem}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}, f"{path} is not YAML (mysql_user, mysql_password, redis_password)"
    if not isinstance(data, dict):
        return {}, f"{path}: expected a mapping of mysql_user, mysql_password, redis_password"
    return {k: str(v) for k, v in data.items() if v is not None}, ""


def discover(settings, inspects: dict, config_text: str | None) -> Access:
    """``inspects``: the containers' inspect data by name (None: absent)."""
    cs = own(settings)
    web, db, cache = (inspects.get(cs.web_container), inspects.get(cs.db_container),
                      inspects.get(cs.redis_container))
    problems = []
    secret, why = secret_of(config_text)
    if why:
        problems.append(why)
    given, why = _credentials(cs.credentials_file) if cs.credentials_file else ({}, "")
    if why:
        problems.append(why)
    web_env, db_env = environment(web), environment(db)
    user = given.get("mysql_user") or web_env.get("SPRING_DATASOURCE_DRUID_USERNAME") or "root"
    password = (given.get("mysql_password") or web_env.get("SPRING_DATASOURCE_DRUID_PASSWORD")
                or (db_env.get("MYSQL_ROOT_PASSWORD") if user == "root" else "") or "")
    db_host = cs.db_host or address(db, web)
    redis_host = cs.redis_host or address(cache, web)
    if not db_host:
        problems.append(f"the database container {cs.db_container} is not running (or has no address): start it, "
                        "or set migrate.xiaozhi_console.db_host")
    if not redis_host:
        problems.append(f"the Redis container {cs.redis_container} is not running (or has no address): start it, "
                        "or set migrate.xiaozhi_console.redis_host")
    redis_password = given.get("redis_password") or web_env.get("SPRING_DATA_REDIS_PASSWORD") or ""
    for value in (password, redis_password, secret):
        register(value)
    return Access(mysql.Address(db_host, cs.db_port, cs.database, user, password) if db_host else None,
                  rediscache.Address(redis_host, cs.redis_port, redis_password) if redis_host else None,
                  secret, tuple(problems))


def containers(settings) -> tuple[str, ...]:
    cs = own(settings)
    return cs.server_container, cs.web_container, cs.db_container, cs.redis_container
