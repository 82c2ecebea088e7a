"""`invoke bench` writes its report and chart against the sandbox."""
import re

from .conftest import invoke


def test_bench_writes_report_and_chart(sandbox_config, sandbox_up, tmp_path):
    out = tmp_path / "reports"
    done = invoke(sandbox_config, "bench", "--target", "both", "--requests", "8", "--concurrency", "1,4",
                  "--out", str(out))
    reports = sorted(out.glob("bench-*.md"))
    charts = sorted(out.glob("bench-*.png"))
    assert len(reports) == 1 and len(charts) == 1, done.stdout
    assert charts[0].read_bytes()[:4] == b"\x89PNG"
    text = reports[0].read_text()
    assert re.search(r"\| first token p50 \| \d+ ms \| \d+ ms \|", text), text
    assert "| local | 4 |" in text and "| api | 4 |" in text and "| error rate | 0.0% | 0.0% |" in text


def test_bench_refuses_bad_levels(sandbox_config, sandbox_up):
    done = invoke(sandbox_config, "bench", "--concurrency", "0,x", check=False)
    assert done.returncode == 2 and "--concurrency" in done.stderr
