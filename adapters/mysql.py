"""Thin adapter over PyMySQL: a connection to a MySQL or MariaDB server, rows as JSON values
(DATETIME as 'YYYY-MM-DD HH:MM:SS' text, which the server reads back as the same value), and one
transaction at a time with rows locked as they are read. Every driver error becomes a
DatabaseError that says where and what next."""
from __future__ import annotations

import datetime
import decimal
from contextlib import contextmanager
from dataclasses import dataclass, field

from core.errors import DatabaseError


@dataclass(frozen=True)
class Address:
    host: str
    port: int = 3306
    database: str = ""
    user: str = "root"
    password: str = field(default="", repr=False)

    @property
    def where(self) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"


def _plain(value):
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") + (f".{value.microsecond:06d}" if value.microsecond else "")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime.timedelta):
        return str(value)
    return value


class CommitUnknown(DatabaseError):
    """The commit's answer was lost (the connection dropped): the transaction may or may not have
    landed. Not 'nothing written': the caller compares the rows again."""


def quoted(name: str) -> str:
    """An identifier as MySQL quotes it (names come from the toolkit, never from a row)."""
    if not name or "`" in name or "\0" in name:
        raise DatabaseError(f"not a table or column name: {name!r}", where="adapters/mysql")
    return f"`{name}`"


class Session:
    """One connection; ``rows`` reads, ``transaction`` writes (committed on success, rolled back
    on any exception, which is raised again)."""

    def __init__(self, conn, address: Address):
        self._conn, self.address = conn, address

    def rows(self, sql: str, args=()) -> list[dict]:
        try:
            with self._conn.cursor() as cur:
                cur.execute(sql, args)
                return [{k: _plain(v) for k, v in row.items()} for row in cur.fetchall()]
        except _driver().MySQLError as exc:
            raise _error(exc, self.address, "reading") from None

    def execute(self, sql: str, args=()) -> int:
        try:
            with self._conn.cursor() as cur:
                return cur.execute(sql, args)
        except _driver().MySQLError as exc:
            raise _error(exc, self.address, "writing") from None

    @contextmanager
    def transaction(self):
        try:
            self._conn.begin()
        except _driver().MySQLError as exc:
            raise _error(exc, self.address, "starting a transaction") from None
        try:
            yield self
        except BaseException:
            try:
                self._conn.rollback()
            except _driver().MySQLError:
                pass
            raise
        try:
            self._conn.commit()
        except _driver().MySQLError as exc:
            found = _error(exc, self.address, "committing")
            raise CommitUnknown(found.what + ": it may or may not have landed", where=found.where,
                                hint=found.hint) from None

    def locked(self, table: str, key: str, ids) -> dict:
        """The rows of ``table`` whose ``key`` is one of ``ids``, locked until the transaction ends."""
        ids = list(ids)
        if not ids:
            return {}
        marks = ", ".join(["%s"] * len(ids))
        found = self.rows(f"SELECT * FROM {quoted(table)} WHERE {quoted(key)} IN ({marks}) FOR UPDATE", ids)
        return {row[key]: row for row in found}

    def update(self, table: str, key: str, row_id, values: dict) -> int:
        sets = ", ".join(f"{quoted(c)} = %s" for c in values)
        return self.execute(f"UPDATE {quoted(table)} SET {sets} WHERE {quoted(key)} = %s",
                            (*values.values(), row_id))

    def insert(self, table: str, row: dict) -> int:
        columns = ", ".join(quoted(c) for c in row)
        return self.execute(f"INSERT INTO {quoted(table)} ({columns}) VALUES ({', '.join(['%s'] * len(row))})",
                            tuple(row.values()))

    def delete(self, table: str, key: str, row_id) -> int:
        return self.execute(f"DELETE FROM {quoted(table)} WHERE {quoted(key)} = %s", (row_id,))

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:   # already closed, or the server went away: nothing to do
            pass


def _driver():
    import pymysql   # lazy: `invoke --list` and the targets that have no database never pay for it
    return pymysql


def _error(exc, address: Address, doing: str) -> DatabaseError:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = str(exc.args[1] if len(exc.args) > 1 else exc)[:200]
    hint = ("check the user and password the toolkit was given (or found in the containers' environment)"
            if code in (1044, 1045) else
            "check that the database container runs and that this host reaches it (`invoke health`)"
            if code in (2002, 2003, 2006, 2013) else "read the database's log")
    return DatabaseError(f"{doing} failed: {text}" + (f" (error {code})" if code else ""), where=address.where,
                         hint=hint)


@contextmanager
def connect(address: Address, timeout: float = 10.0):
    """A Session on ``address``; closed on the way out."""
    pymysql = _driver()
    try:
        conn = pymysql.connect(host=address.host, port=address.port, user=address.user, password=address.password,
                               database=address.database or None, charset="utf8mb4", autocommit=True,
                               connect_timeout=timeout, read_timeout=max(timeout, 30), write_timeout=max(timeout, 30),
                               cursorclass=pymysql.cursors.DictCursor)
    except pymysql.MySQLError as exc:
        raise _error(exc, address, "connecting") from None
    except RuntimeError as exc:   # caching_sha2_password over plain TCP without the cryptography package
        raise DatabaseError(f"connecting failed: {exc}", where=address.where,
                            hint="install PyMySQL's rsa extra (`pip install 'PyMySQL[rsa]'`, in requirements.txt)") from None
    session = Session(conn, address)
    try:
        yield session
    finally:
        session.close()
