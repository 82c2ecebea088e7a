"""Issue 3's targets, measured on the running sandbox (`invoke -f sandbox.yaml sandbox.up`):
- with the seed's latencies injected (local first token 300 ms, API 800 ms), `invoke health`
  against a bash + curl script doing the same probes one after another (target: <= 0.9x),
  over plain http (the sandbox's DashScope emulator) and over https (a second emulator on
  loopback with a self-signed certificate, trusted through `api.ca_file`, as production's API
  is reached over TLS);
- with the local LLM hanging, `invoke health --timeout 2` ends within timeout + 0.5 s;
- its peak RSS (target: < 80 MB); `invoke --list` (target: < 0.3 s).
Prints figures; asserts nothing: these machines are noisy."""
import copy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from common import INVOKE, ROOT, SANDBOX, SETTINGS, free_port, knobs, peak_child_rss_mb, timed, wait_listening

LOCAL, API = "http://127.0.0.1:11434", "http://127.0.0.1:18080"


def compare(label: str, health: list[str], curl: list[str], env: dict | None = None) -> None:
    runs, curl_runs, code = [], [], 0
    for _ in range(9):  # taken in turns, so that a noisy spell weighs on both sides alike
        _, one, code = timed(health, runs=1)
        runs += one
        curl_runs += timed(curl, runs=1, env=env)[1]
    ours, theirs = statistics.median(runs), statistics.median(curl_runs)
    print(f"[{label}] invoke health (seed latencies): median {ours:.3f} s over {len(runs)} runs "
          f"({', '.join(f'{t:.2f}' for t in runs)}), exit {code}")
    print(f"[{label}] bash + curl, same probes:       median {theirs:.3f} s "
          f"({', '.join(f'{t:.2f}' for t in curl_runs)})")
    print(f"[{label}] ratio: {ours / theirs:.2f}x (target <= 0.90x)")


def https_api(folder: Path, key: str):
    """A DashScope emulator on loopback over TLS, its certificate, and a config that trusts it."""
    cert, private = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(private), "-out", str(cert)],
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "sandbox.dashscope", "--port", str(port), "--key", key,
                               "--rpm", "0", "--first-token-ms", "800", "--host", "127.0.0.1",
                               "--tls-cert", str(cert), "--tls-key", str(private)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    data = copy.deepcopy(yaml.safe_load(SANDBOX.read_text()))
    url = f"https://127.0.0.1:{port}/compatible-mode/v1"
    data["migrate"]["api"].update(probe_url=url, ca_file=str(cert))
    config = folder / "sandbox-https.yaml"
    config.write_text(yaml.safe_dump(data))
    return server, url, cert, config


def main() -> int:
    key = SETTINGS["sandbox"]["key"]
    knobs(LOCAL, first_token_delay=0.3)
    knobs(API, first_token_delay=0.8)
    curl_args = ["qwen2:7b", "qwen-plus", "xiaozhi-local-llm"]
    try:
        health = INVOKE + ["health", "--stage", "1", "--no-record"]
        subprocess.run(health, cwd=ROOT, capture_output=True)  # warm the page cache
        rss = peak_child_rss_mb()  # the only child so far
        curl = ["bash", str(ROOT / "benchmarks/health_curl.sh"), LOCAL, API + "/compatible-mode/v1", key, *curl_args]
        compare("http", health, curl)
        print(f"peak RSS of invoke health: {rss:.1f} MB (target < 80 MB)")
        with tempfile.TemporaryDirectory() as folder:
            server, url, cert, config = https_api(Path(folder), key)
            try:
                https_health = [sys.executable, "-m", "invoke", "-f", str(config), "health", "--stage", "1",
                                "--no-record"]
                https_curl = ["bash", str(ROOT / "benchmarks/health_curl.sh"), LOCAL, url, key, *curl_args]
                compare("https", https_health, https_curl, env={"CURL_CA_BUNDLE": str(cert)})
            finally:
                server.terminate()
                server.wait(10)
        knobs(LOCAL, first_token_delay=0, hang=True)
        start = time.perf_counter()
        code = subprocess.run(INVOKE + ["health", "--stage", "1", "--no-record", "--timeout", "2"],
                              cwd=ROOT, capture_output=True).returncode
        hang = time.perf_counter() - start
        print(f"local LLM hanging, --timeout 2: ended in {hang:.2f} s, exit {code} (target <= 2.5 s)")
    finally:
        knobs(LOCAL, first_token_delay=0, hang=False)
        knobs(API, first_token_delay=0)
    listing, runs, _ = timed([sys.executable, "-m", "invoke", "--list"], runs=7)
    print(f"invoke --list: median {listing:.3f} s (target < 0.3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
