"""Blocking calls awaited from asyncio without ever holding the process back.

asyncio's own executor (``run_in_executor``, and the name lookups of ``open_connection``) runs
non-daemon threads that ``asyncio.run`` and interpreter exit both wait for: one hung call (a DNS
server or a Docker engine that does not answer) would keep `invoke health` running past its
deadline. A daemon thread is left behind instead, and the process ends on time."""
from __future__ import annotations

import asyncio
import threading


def in_daemon_thread(fn, *args) -> asyncio.Future:
    """Run ``fn(*args)`` in a daemon thread; the returned future gets its value or exception."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(value, error):
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(value)

    def work():
        try:
            value, error = fn(*args), None
        except BaseException as exc:  # handed to the awaiting side, which reports it
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop has ended: nobody is waiting any more
            pass

    threading.Thread(target=work, daemon=True).start()
    return future
