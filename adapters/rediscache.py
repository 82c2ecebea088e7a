"""Thin adapter over redis-py: ping, read and delete keys of a Redis that another program caches
in (the toolkit never writes a value there). Driver errors become DatabaseErrors."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import DatabaseError


@dataclass(frozen=True)
class Address:
    host: str
    port: int = 6379
    password: str = field(default="", repr=False)
    db: int = 0

    @property
    def where(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.db}"


def _client(address: Address, timeout: float):
    import redis   # lazy: only the targets with a cache pay for it
    return redis.Redis(host=address.host, port=address.port, password=address.password or None, db=address.db,
                       socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True)


def _call(address: Address, doing: str, timeout: float, work):
    import redis
    client = _client(address, timeout)
    try:
        return work(client)
    except redis.RedisError as exc:
        raise DatabaseError(f"{doing} failed: {type(exc).__name__}: {str(exc)[:200]}", where=address.where,
                            hint="check that the Redis container runs and that this host reaches it "
                                 "(`invoke health`)") from None
    finally:
        client.close()


def ping(address: Address, timeout: float = 5.0) -> bool:
    return bool(_call(address, "ping", timeout, lambda c: c.ping()))


def get(address: Address, key: str, timeout: float = 5.0) -> str | None:
    return _call(address, f"reading {key}", timeout, lambda c: c.get(key))


def delete(address: Address, keys, timeout: float = 5.0) -> int:
    """Delete ``keys``; how many existed."""
    keys = list(keys)
    return _call(address, "deleting cached keys", timeout, lambda c: c.delete(*keys)) if keys else 0
