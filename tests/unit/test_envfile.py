"""The operator's .env: the toolkit writes the COMPOSE_FILE line and keeps every other byte."""
import pytest

from core import envfile


@pytest.mark.parametrize("before, after", [
    ("", "COMPOSE_FILE=a.yml:b.yml\n"),
    ("TZ=Asia/Shanghai", "TZ=Asia/Shanghai\nCOMPOSE_FILE=a.yml:b.yml\n"),
    ("# mine\nCOMPOSE_FILE=docker-compose.yml\nTZ=x\n", "# mine\nCOMPOSE_FILE=a.yml:b.yml\nTZ=x\n"),
    ("export COMPOSE_FILE=old\n#COMPOSE_FILE=commented\n", "COMPOSE_FILE=a.yml:b.yml\n#COMPOSE_FILE=commented\n"),
    ("  COMPOSE_FILE = 'x' \r\nCOMPOSE_FILES=keep\n", "COMPOSE_FILE=a.yml:b.yml\r\nCOMPOSE_FILES=keep\n"),
    ("MY_COMPOSE_FILE=keep\n", "MY_COMPOSE_FILE=keep\nCOMPOSE_FILE=a.yml:b.yml\n"),
    ("TZ=x\r\n# theirs, CRLF\r\n", "TZ=x\r\n# theirs, CRLF\r\nCOMPOSE_FILE=a.yml:b.yml\r\n"),      # their line endings
    ("TZ=x\r\nA=1", "TZ=x\r\nA=1\r\nCOMPOSE_FILE=a.yml:b.yml\r\n"),
])
def test_set_variable_writes_that_line_only(before, after):
    assert envfile.set_variable(before, "COMPOSE_FILE", "a.yml:b.yml") == after
    assert envfile.parse(after)["COMPOSE_FILE"] == "a.yml:b.yml"
