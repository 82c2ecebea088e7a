"""How the console target reaches the database and the cache: addresses and credentials found in
the containers' environment as upstream's compose file sets them, or an owner-only file; the
server secret in their data/.config.yaml. Hostile input: a secret left as upstream's
placeholder, a group-readable credentials file, a file that is not YAML."""
import pytest
import yaml

from core import config
from targets.xiaozhi_console import access

from ...conftest import ROOT

DATA = yaml.safe_load((ROOT / "defaults.yaml").read_text())
DATA["migrate"]["target"] = "xiaozhi-console"


def settings(tmp_path, **console):
    data = yaml.safe_load(yaml.safe_dump(DATA))
    data["migrate"]["deploy_dir"] = str(tmp_path)
    data["migrate"]["xiaozhi_console"] = console
    return config.load(data, env={}, deployed_key=False)


def container(env=(), networks=None):
    return {"Config": {"Env": list(env)}, "NetworkSettings": {"Networks": networks or
                                                              {"xiaozhi_default": {"IPAddress": "172.20.0.5"}}}}


CONFIG = "manager-api:\n  url: http://xiaozhi-esp32-server-web:8002/xiaozhi\n  secret: 6f1c2a9e-uuid\n"


def inspects(web_env=("SPRING_DATASOURCE_DRUID_USERNAME=xz", "SPRING_DATASOURCE_DRUID_PASSWORD=db-pass",
                      "SPRING_DATA_REDIS_PASSWORD=r-pass")):
    return {"xiaozhi-esp32-server-web": container(web_env),
            "xiaozhi-esp32-server-db": container(["MYSQL_ROOT_PASSWORD=root-pass"], {
                "other": {"IPAddress": "10.9.0.2"}, "xiaozhi_default": {"IPAddress": "172.20.0.3"}}),
            "xiaozhi-esp32-server-redis": container(networks={"xiaozhi_default": {"IPAddress": "172.20.0.4"}})}


def test_manager_api_environment_gives_the_database_and_the_cache(tmp_path):
    found = access.discover(settings(tmp_path), inspects(), CONFIG)
    assert not found.problems
    assert (found.db.host, found.db.user, found.db.password, found.db.database) == \
        ("172.20.0.3", "xz", "db-pass", "xiaozhi_esp32_server")   # on the network manager-api shares
    assert (found.cache.host, found.cache.password, found.secret) == ("172.20.0.4", "r-pass", "6f1c2a9e-uuid")
    assert "db-pass" not in repr(found) and "6f1c2a9e" not in repr(found)


def test_without_manager_api_credentials_the_database_root_password_is_used(tmp_path):
    found = access.discover(settings(tmp_path), inspects(web_env=()), CONFIG)
    assert (found.db.user, found.db.password) == ("root", "root-pass")


def test_an_owner_only_file_overrides_and_a_readable_one_is_refused(tmp_path):
    path = tmp_path / "creds.yaml"
    path.write_text("mysql_user: migrator\nmysql_password: from-file\n")
    path.chmod(0o600)
    found = access.discover(settings(tmp_path, credentials_file=str(path)), inspects(), CONFIG)
    assert (found.db.user, found.db.password) == ("migrator", "from-file")
    path.chmod(0o644)
    found = access.discover(settings(tmp_path, credentials_file=str(path)), inspects(), CONFIG)
    assert any("chmod 600" in p for p in found.problems)


@pytest.mark.parametrize("text, problem", [
    (None, "is missing"),
    ("server: {port: 8000}\n", "no manager-api.url"),
    ("manager-api: {url: http://x/xiaozhi, secret: 你的server.secret值}\n", "no manager-api.secret"),
    ("manager-api: {url: http://x/xiaozhi, secret: 'null'}\n", "no manager-api.secret"),
    ("manager-api: [unclosed\n", "not YAML"),
])
def test_the_server_secret_must_be_there(text, problem):
    secret, why = access.secret_of(text)
    assert not secret and problem in why


def test_stopped_containers_and_given_hosts(tmp_path):
    found = access.discover(settings(tmp_path), {}, CONFIG)
    assert found.db is None and any("not running" in p for p in found.problems)
    given = access.discover(settings(tmp_path, db_host="127.0.0.1", db_port=13306, redis_host="127.0.0.1"), {}, CONFIG)
    assert (given.db.host, given.db.port, given.cache.host) == ("127.0.0.1", 13306, "127.0.0.1")
