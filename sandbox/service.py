"""Idle stand-ins for the stack's VAD, ASR and TTS services.

    python3 -m sandbox.service --name vad|asr|tts [--port 8000]

``GET /health`` reports the service's ``<NAME>_MAX_CONCURRENT``, which is what the migration
changes at stage 3 and what drift checks read back.
"""
from __future__ import annotations

import argparse
import os
import sys

from sandbox.common import EmulatorServer, Handler, Knobs, serve

NAMES = ("vad", "asr", "tts")


class ServiceHandler(Handler):
    routes = {("GET", "/health"): "health"}

    def health(self):
        server = self.server
        self.send_json(200, {"status": "ok", "service": server.name,
                             "max_concurrent": server.max_concurrent})


class ServiceServer(EmulatorServer):
    def __init__(self, address, name: str, max_concurrent: int):
        super().__init__(address, ServiceHandler, Knobs())
        self.name = name
        self.max_concurrent = max_concurrent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.service", description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, choices=NAMES)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SERVICE_PORT", "8000")))
    parser.add_argument("--host", default=os.environ.get("SANDBOX_BIND", "127.0.0.1"))
    args = parser.parse_args(argv)
    variable = f"{args.name.upper()}_MAX_CONCURRENT"
    try:
        limit = int(os.environ.get(variable, "0"))
    except ValueError:
        print(f"sandbox.service: {variable}={os.environ[variable]!r} is not a whole number", file=sys.stderr)
        return 2
    serve(ServiceServer((args.host, args.port), args.name, limit), f"sandbox.service {args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
