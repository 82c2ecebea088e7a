"""The sandbox image works under testcontainers, with the port published on loopback only."""
import openai
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

KEY = "sk-testcontainers-0000"


def test_dashscope_emulator_in_a_testcontainer(docker_client):
    container = (DockerContainer("xiaozhi-sandbox:latest")
                 .with_command(["python3", "-m", "sandbox.dashscope", "--port", "18080", "--key", KEY])
                 .waiting_for(LogMessageWaitStrategy("listening on").with_startup_timeout(30)))
    # with_bind_ports takes no host address; docker-py's (address, port) form binds loopback only.
    container.ports["18080/tcp"] = ("127.0.0.1", None)
    with container:
        port = container.get_exposed_port(18080)
        bindings = docker_client.containers.get(container.get_wrapped_container().id).attrs["HostConfig"]["PortBindings"]
        assert bindings["18080/tcp"][0]["HostIp"] == "127.0.0.1"
        api = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/compatible-mode/v1", api_key=KEY, max_retries=0)
        assert "qwen-plus" in {m.id for m in api.models.list()}
        try:
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/compatible-mode/v1", api_key="bad",
                          max_retries=0).models.list()
            raise AssertionError("a bad key was accepted")
        except openai.AuthenticationError:
            pass
