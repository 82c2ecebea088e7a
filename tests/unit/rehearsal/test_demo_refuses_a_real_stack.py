"""`invoke demo` stops before anything when this host's xiaozhi-local-llm or port 11434 is not its own."""
import dataclasses
import socket
from types import SimpleNamespace

import pytest

from core.errors import Refused
from rehearsal import demo

from ...conftest import free_port


class Client:
    def __init__(self, project):
        self.found = None if project is False else SimpleNamespace(attrs={"Name": "/x", "Config": {"Labels": (
            {"com.docker.compose.project": project} if project else {})}})
        self.containers = SimpleNamespace(get=self.get)

    def get(self, name):
        import docker
        if self.found is None:
            raise docker.errors.NotFound(name)
        return self.found


@pytest.fixture
def settings():
    config, loaded = demo.settings(None, "compose-env")
    service = dataclasses.replace(loaded.local_llm.service, publish=free_port())
    return dataclasses.replace(loaded, local_llm=dataclasses.replace(loaded.local_llm, service=service))


@pytest.mark.parametrize("project, refused", [("xiaozhi", True), (None, True), ("xiaozhi-demo", False), (False, False)])
def test_a_local_model_container_of_another_project_is_refused(settings, project, refused):
    if refused:
        with pytest.raises(Refused, match="this host runs a real stack"):
            demo.refuse_on_a_real_stack(settings, Client(project))
    else:
        demo.refuse_on_a_real_stack(settings, Client(project))


def test_a_port_taken_by_something_else_is_refused(settings):
    with socket.socket() as server:
        server.bind((settings.bind, settings.local_llm.service.publish))
        server.listen()
        with pytest.raises(Refused, match="an Ollama on this host"):
            demo.refuse_on_a_real_stack(settings, Client(False))


def test_the_xiaozhi_demo_refuses_a_real_server_container():
    config, loaded = demo.settings(None, "xiaozhi-server")
    service = dataclasses.replace(loaded.local_llm.service, publish=free_port())
    loaded = dataclasses.replace(loaded, local_llm=dataclasses.replace(loaded.local_llm, service=service))

    class Server(Client):
        def get(self, name):
            import docker
            if name != loaded.sections['xiaozhi_server'].container:
                raise docker.errors.NotFound(name)
            return SimpleNamespace(attrs={"Name": "/x", "Config": {"Labels": {"com.docker.compose.project": "xiaozhi-server"}}})
    with pytest.raises(Refused, match=f"the container {loaded.sections['xiaozhi_server'].container} belongs to"):
        demo.refuse_on_a_real_stack(loaded, Server(False))
