"""The benchmark report: the seed's comparison tables (latency, concurrency, resources) filled
with measured numbers, as Markdown, and a PNG chart of latency against concurrency."""
from __future__ import annotations

import io
import time
from pathlib import Path

from bench.load import Level
from core.files import atomic_write

LABEL = {"local": "Qwen2:7B local (Ollama)", "api": "Tongyi Qianwen API"}


def _ms(value) -> str:
    return "n/a" if value is None else f"{value * 1000:.0f} ms"


def _at(levels: list[Level], target: str, concurrency: int | None = None) -> Level | None:
    mine = [lv for lv in levels if lv.target == target]
    if not mine:
        return None
    if concurrency is None:
        return min(mine, key=lambda lv: lv.concurrency)
    return next((lv for lv in mine if lv.concurrency == concurrency), None)


def markdown(levels: list[Level], context: dict) -> str:
    targets = [t for t in ("local", "api") if _at(levels, t)]
    head = "| metric | " + " | ".join(LABEL[t] for t in targets) + " |\n|---|" + "---|" * len(targets)
    lines = ["# Measured comparison: local model vs API", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M', time.localtime())} on {context.get('host', 'this host')}; "
             f"{context.get('requests')} streamed requests per level; targets: "
             + ", ".join(f"{LABEL[t]} at {context['urls'][t]}" for t in targets) + ".", "",
             "## 1. Response latency (lowest concurrency)", "", head]
    rows = [("first token p50", lambda lv: _ms(lv.pct("first_token_s", 50))),
            ("first token p95", lambda lv: _ms(lv.pct("first_token_s", 95))),
            ("full reply p50", lambda lv: _ms(lv.pct("total_s", 50))),
            ("full reply p95", lambda lv: _ms(lv.pct("total_s", 95))),
            ("tokens per second", lambda lv: "n/a" if lv.tokens_per_s is None else f"{lv.tokens_per_s:.1f}"),
            ("error rate", lambda lv: f"{lv.error_rate:.1%}")]
    for name, fn in rows:
        lines.append(f"| {name} | " + " | ".join(fn(_at(levels, t)) for t in targets) + " |")
    lines += ["", "## 2. Concurrency", "",
              "| target | concurrency | first token p50 / p95 / p99 | full reply p50 / p95 / p99 | tokens/s | errors | throughput |",
              "|---|---|---|---|---|---|---|"]
    for lv in sorted(levels, key=lambda lv: (lv.target, lv.concurrency)):
        ft = " / ".join(_ms(lv.pct("first_token_s", p)) for p in (50, 95, 99))
        tt = " / ".join(_ms(lv.pct("total_s", p)) for p in (50, 95, 99))
        tps = "n/a" if lv.tokens_per_s is None else f"{lv.tokens_per_s:.1f}"
        rate = len(lv.ok) / lv.wall_s if lv.wall_s else 0
        lines.append(f"| {lv.target} | {lv.concurrency} | {ft} | {tt} | {tps} | {lv.error_rate:.1%} | {rate:.1f} req/s |")
    lines += ["", "## 3. Resources during the run", "", head]
    def res(key, fmt):
        return lambda lv: "n/a" if lv.resources.get(key) is None else fmt(lv.resources[key])
    for name, fn in [("local model CPU (mean, % of one core)", res("model_cpu_percent", lambda v: f"{v:.0f}%")),
                     ("local model memory (peak RSS)", res("model_rss_peak", lambda v: f"{v / 2 ** 20:.0f} MB")),
                     ("host CPU (mean)", res("host_cpu_percent", lambda v: f"{v:.0f}%"))]:
        worst = {t: max((lv for lv in levels if lv.target == t), key=lambda lv: lv.concurrency) for t in targets}
        lines.append(f"| {name} | " + " | ".join(fn(worst[t]) for t in targets) + " |")
    lines += ["", "Resources are sampled every 0.25 s at the highest concurrency level. The seed's estimates were: "
              "local first token 200-400 ms, full reply 1-3 s; API first token 800-1500 ms, full reply 2-5 s.", ""]
    lines += context.get("cost") or []
    if context.get("chart"):
        lines += [f"![latency against concurrency]({context['chart']})", ""]
    return "\n".join(lines)


def chart(levels: list[Level], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for target, colour in (("local", "tab:blue"), ("api", "tab:orange")):
        mine = sorted((lv for lv in levels if lv.target == target), key=lambda lv: lv.concurrency)
        if not mine:
            continue
        xs = [lv.concurrency for lv in mine]
        for p, style in ((50, "-"), (95, "--")):
            ys = [(lv.pct("first_token_s", p) or 0) * 1000 for lv in mine]
            ax.plot(xs, ys, style, marker="o", color=colour, label=f"{target} first token p{p}")
    ax.set_xlabel("concurrency")
    ax.set_ylabel("first-token latency (ms)")
    ax.set_title("First-token latency against concurrency")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    atomic_write(path, png.getvalue())  # never through a link planted in the report folder
    return path
