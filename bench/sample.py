"""Samples CPU and memory while a level runs: the local model's container (its process tree,
through psutil) and the host."""
from __future__ import annotations

import threading

import psutil


class Sampler:
    def __init__(self, pid: int | None, interval: float = 0.25):
        self.pid, self.interval = pid, interval
        self.cpu, self.rss, self.host_cpu = [], [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _procs(self):
        if not self.pid:
            return []
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def _run(self):
        procs = self._procs()
        for p in procs:
            p.cpu_percent(None)
        psutil.cpu_percent(None)
        while not self._stop.wait(self.interval):
            try:
                self.cpu.append(sum(p.cpu_percent(None) for p in procs))
                self.rss.append(sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            self.host_cpu.append(psutil.cpu_percent(None))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)

    def summary(self) -> dict:
        mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
        return {"model_cpu_percent": mean(self.cpu) if self.pid else None,
                "model_rss_peak": max(self.rss) if self.rss and self.pid else None,
                "host_cpu_percent": mean(self.host_cpu)}
