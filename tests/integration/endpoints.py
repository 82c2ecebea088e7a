"""The host ports and project names the integration tests use, in one place, so that two test
sessions on one machine can keep apart: XZTEST_PORTS="LOCAL,API,LLM" (default: the sandbox's
11434,18080,18000) and XZTEST_PROJECT_PREFIX (default xztest). Every test config goes through
``apply``; every URL a test opens comes from here."""
import os
import uuid

_local, _api, _llm = (int(p) for p in os.environ.get("XZTEST_PORTS", "11434,18080,18000").split(","))
PREFIX = os.environ.get("XZTEST_PROJECT_PREFIX", "xztest")

LOCAL_PORT, API_PORT, LLM_PORT = _local, _api, _llm
LOCAL = f"http://127.0.0.1:{LOCAL_PORT}"               # the local LLM (Ollama emulator)
API = f"http://127.0.0.1:{API_PORT}"                   # the DashScope emulator
API_BASE = API + "/compatible-mode/v1"
LLM = f"http://127.0.0.1:{LLM_PORT}"                   # llm-service
# The emulated xiaozhi-esp32-server's 8000 takes llm-service's port (the two sandboxes never run
# at once: they share xiaozhi-local-llm); its OTA port 8003 comes from XZTEST_OTA_PORT.
SERVER = LLM
OTA_PORT = int(os.environ.get("XZTEST_OTA_PORT", "18003"))
# manager-api's 8002 (the console target's sandbox) from XZTEST_MANAGER_PORT.
MANAGER_PORT = int(os.environ.get("XZTEST_MANAGER_PORT", "18002"))
MANAGER = f"http://127.0.0.1:{MANAGER_PORT}/xiaozhi"


def project() -> str:
    return f"{PREFIX}-{uuid.uuid4().hex[:6]}"


def apply(data: dict, deploy_dir: str) -> dict:
    """A sandbox config (sandbox.yaml's data) moved onto this session's ports, project and directory."""
    m = data["migrate"]
    m["project"], m["deploy_dir"] = project(), deploy_dir
    m["local_llm"].update(publish=LOCAL_PORT, probe_url=LOCAL)
    m["extra_services"]["dashscope"]["publish"] = API_PORT
    m["api"]["probe_url"] = API_BASE
    if "services" in m:
        m["services"]["llm-service"]["publish"] = LLM_PORT
    if m.get("target") == "xiaozhi-console":
        m["xiaozhi_console"].update(http_url=SERVER, manager_url=MANAGER)
    if m.get("target") == "xiaozhi-server":
        m["xiaozhi_server"].update(http_url=SERVER, ota_url=f"http://127.0.0.1:{OTA_PORT}/xiaozhi/ota/")
    return data
