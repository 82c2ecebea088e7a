"""Facts about the host, through psutil: memory, load, free disk where the model store lives,
who listens on the local LLM's port, and the memory the local model's container holds."""
from __future__ import annotations

import os

import psutil

from checks.facts import Host


def listener(port: int) -> dict | None:
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return {"pid": None, "process": "unknown (not allowed to list sockets)"}
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            name = "?"
            if conn.pid:
                try:
                    name = psutil.Process(conn.pid).name()
                except psutil.Error:
                    pass
            return {"pid": conn.pid, "process": name}
    return None


def tree_rss(pid: int | None) -> int | None:
    if not pid:
        return None
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return None


def host(store_path: str | None, port: int, local_pid: int | None) -> Host:
    memory = psutil.virtual_memory()
    path = store_path or "/"
    while not os.path.exists(path) and path != os.path.dirname(path):
        path = os.path.dirname(path)  # a store not created yet: the filesystem it would be on
    disk = psutil.disk_usage(path)
    return Host(mem_available=memory.available, mem_total=memory.total, load1=os.getloadavg()[0],
                cpus=psutil.cpu_count() or 1, disk_path=path, disk_free=disk.free, listener=listener(port),
                local_model_rss=tree_rss(local_pid))
