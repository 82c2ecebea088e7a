"""Issue 3's targets, measured on the running sandbox (`invoke -f sandbox.yaml sandbox.up`):
- with the seed's latencies injected (local first token 300 ms, API 800 ms), `invoke health`
  against a bash + curl script doing the same probes one after another (target: <= 0.9x);
- with the local LLM hanging, `invoke health --timeout 2` ends within timeout + 0.5 s;
- its peak RSS (target: < 80 MB); `invoke --list` (target: < 0.3 s).
Prints figures; asserts nothing: these machines are noisy."""
import statistics
import subprocess
import sys
import time

from common import INVOKE, ROOT, SETTINGS, knobs, peak_child_rss_mb, timed

LOCAL, API = "http://127.0.0.1:11434", "http://127.0.0.1:18080"


def main() -> int:
    key = SETTINGS["sandbox"]["key"]
    knobs(LOCAL, first_token_delay=0.3)
    knobs(API, first_token_delay=0.8)
    try:
        health = INVOKE + ["health", "--stage", "1", "--no-record"]
        subprocess.run(health, cwd=ROOT, capture_output=True)  # warm the page cache
        rss = peak_child_rss_mb()  # the only child so far
        curl = ["bash", str(ROOT / "benchmarks/health_curl.sh"), LOCAL, API + "/compatible-mode/v1", key,
                "qwen2:7b", "qwen-plus", "xiaozhi-local-llm"]
        runs, curl_runs = [], []
        for _ in range(9):  # taken in turns, so that a noisy spell weighs on both sides alike
            _, one, code = timed(health, runs=1)
            runs += one
            curl_runs += timed(curl, runs=1)[1]
        ours, theirs = statistics.median(runs), statistics.median(curl_runs)
        print(f"invoke health (seed latencies): median {ours:.3f} s over {len(runs)} runs "
              f"({', '.join(f'{t:.2f}' for t in runs)}), exit {code}")
        print(f"bash + curl, same probes:       median {theirs:.3f} s ({', '.join(f'{t:.2f}' for t in curl_runs)})")
        print(f"ratio: {ours / theirs:.2f}x (target <= 0.90x)")
        print(f"peak RSS of invoke health: {rss:.1f} MB (target < 80 MB)")
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
