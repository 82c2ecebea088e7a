"""An emulator of upstream's manager-api (the web console's back end, context path /xiaozhi) for
the endpoints the server and the toolkit use, over a real MariaDB and a real Redis:

- ``POST /xiaozhi/config/agent-models`` as upstream's ConfigServiceImpl.getAgentModels answers it:
  the device by ``macAddress``, its agent, and each of the agent's models from the cache
  (``model:data:{id}``, filled from ``ai_model_config`` on a miss with a 24 h TTL, never
  refreshed by a read), the intent's and the memory's ``llm`` added to ``LLM``.
  A model edited in the database while its key is cached is answered stale until the key is
  deleted, as upstream does: a migration that forgets the invalidation shows here.
- ``POST /xiaozhi/config/server-base``: the system parameters and the default template's VAD/ASR.

Auth as upstream's ServerSecretFilter: ``Authorization: Bearer <server.secret>`` (read through
the ``sys:params`` hash), errors in the body with HTTP 200 (401, 10034, 10041, 10053, 500).
Values in Redis are JSON with Jackson's ``@class`` hints, as spring-data-redis writes them.

Needs PyMySQL and redis-py (Debian's python3-pymysql and python3-redis in the console image)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid

import pymysql
import redis

from sandbox.common import EmulatorServer, Handler, Knobs, serve

TTL = 86400                      # RedisUtils.DEFAULT_EXPIRE
ENTITY = "xiaozhi.modules.model.entity.ModelConfigEntity"
COLUMNS = ("id", "model_type", "model_code", "model_name", "is_default", "is_enabled", "config_json",
           "doc_link", "remark", "sort", "updater", "update_date", "creator", "create_date")
TYPES = (("VAD", "vad_model_id"), ("ASR", "asr_model_id"), ("TTS", "tts_model_id"), ("Memory", "mem_model_id"),
         ("Intent", "intent_model_id"), ("LLM", "llm_model_id"), ("VLLM", "vllm_model_id"), ("SLM", "slm_model_id"))


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def hinted(value):
    """A config_json value as hutool's JSONObject under Jackson default typing (nulls dropped)."""
    if isinstance(value, dict):
        return {"@class": "cn.hutool.json.JSONObject", **{k: hinted(v) for k, v in value.items() if v is not None}}
    if isinstance(value, list):
        return ["cn.hutool.json.JSONArray", [hinted(v) for v in value]]
    return value


def unhinted(value):
    if isinstance(value, dict):
        return {k: unhinted(v) for k, v in value.items() if k != "@class"}
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], list):
        return [unhinted(v) for v in value[1]]
    return value


class Upstream:
    """The database and the cache, as manager-api's services read them."""

    def __init__(self, db: dict, cache: redis.Redis):
        self.db, self.cache = db, cache
        self.local = threading.local()

    def query(self, sql: str, args=()) -> list[dict]:
        conn = getattr(self.local, "conn", None)
        if conn is None or not conn.open:
            conn = self.local.conn = pymysql.connect(**self.db, cursorclass=pymysql.cursors.DictCursor,
                                                     autocommit=True, charset="utf8mb4")
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def secret(self) -> str:
        found = self.cache.hget("sys:params", "server.secret")
        if found is not None:
            return json.loads(found)
        rows = self.query("SELECT param_value FROM sys_params WHERE param_code = 'server.secret'")
        value = rows[0]["param_value"] if rows else ""
        self.cache.hset("sys:params", "server.secret", json.dumps(value))
        self.cache.expire("sys:params", TTL)
        return value

    def model(self, model_id: str) -> dict | None:
        """ModelConfigServiceImpl.getModelByIdFromCache: the cached row, else the database's (cached)."""
        key = f"model:data:{model_id}"
        cached = self.cache.get(key)
        if cached is not None:
            entity = unhinted(json.loads(cached))
            return {"id": entity["id"], "config_json": entity.get("configJson") or {}}
        rows = self.query(f"SELECT {', '.join(COLUMNS)} FROM ai_model_config WHERE id = %s", (model_id,))
        if not rows:
            return None
        row = rows[0]
        config = json.loads(row["config_json"]) if row["config_json"] else {}
        entity = {"@class": ENTITY}
        for column in COLUMNS:
            value = row[column]
            entity[camel(column)] = (hinted(config) if column == "config_json" else
                                     ["java.util.Date", int(value.timestamp() * 1000)] if hasattr(value, "timestamp")
                                     else value)
        self.cache.set(key, json.dumps(entity, ensure_ascii=False), ex=TTL)
        self.cache.set(f"model:name:{model_id}", json.dumps(row["model_name"], ensure_ascii=False), ex=TTL)
        return {"id": model_id, "config_json": unhinted(hinted(config))}


class ApiError(Exception):
    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg


def agent_models(up: Upstream, mac: str, selected: dict) -> dict:
    devices = up.query("SELECT agent_id FROM ai_device WHERE mac_address = %s", (mac,))
    if not devices:
        raise ApiError(10041, "设备未找到")
    agents = up.query("SELECT * FROM ai_agent WHERE id = %s", (devices[0]["agent_id"],)) \
        if devices[0]["agent_id"] else []
    if not agents:
        raise ApiError(10053, "智能体未找到")
    agent = agents[0]
    params = {r["param_code"]: r["param_value"] for r in up.query("SELECT param_code, param_value FROM sys_params")}
    result: dict = {"device_max_output_size": params.get("device_max_output_size", "0"),
                    "chat_history_conf": 0 if agent["mem_model_id"] == "Memory_nomem"
                    else (agent["chat_history_conf"] if agent["chat_history_conf"] is not None else 2)}
    chosen, extra_llm = {}, []
    for kind, column in TYPES:
        model_id = agent.get(column)
        if not model_id or (kind in ("VAD", "ASR") and selected.get(kind) == model_id):
            continue
        if kind == "SLM" and model_id == agent["llm_model_id"]:
            continue
        found = up.model(model_id)
        if found is None:
            continue
        config = found["config_json"]
        if kind == "Intent" and config.get("type") == "intent_llm" and config.get("llm") != agent["llm_model_id"]:
            extra_llm.append(config.get("llm"))
        if kind == "Memory" and config.get("type") == "mem_local_short" and config.get("llm") != agent["llm_model_id"]:
            extra_llm.append(config.get("llm"))
        if kind == "SLM":   # upstream also puts the agent's small model in LLM (the server never selects it)
            result.setdefault("LLM", {})[model_id] = config
        if kind == "LLM":
            result.setdefault("LLM", {})[model_id] = config
            chosen["LLM"] = model_id
            continue
        result[kind] = {model_id: config}
        chosen[kind] = model_id
    for model_id in extra_llm:
        found = up.model(model_id) if model_id else None
        if found is None:
            raise ApiError(500, "服务器内部异常")   # upstream: intentLLM.getId() on null
        result.setdefault("LLM", {})[model_id] = found["config_json"]
    result["selected_module"] = chosen
    name = agent["agent_name"] or "小智"
    result["prompt"] = (agent["system_prompt"] or "").replace("{{assistant_name}}", name) or None
    result["summaryMemory"] = agent["summary_memory"]
    return result


class ManagerHandler(Handler):
    routes = {("POST", "/xiaozhi/config/agent-models"): "agent_models",
              ("POST", "/xiaozhi/config/server-base"): "server_base",
              ("GET", "/xiaozhi/"): "index"}

    def index(self):
        self.send_text(200, "manager-api")

    def _answer(self, code: int, msg: str = "success", data=None) -> None:
        self.send_json(200, {"code": code, "msg": msg, "data": data})   # upstream: HTTP 200 always

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization") or ""
        token = header.replace("Bearer ", "") if header.startswith("Bearer ") else ""
        if not token:
            self._drain_body()
            self._answer(401, "服务器密钥不能为空")
            return False
        secret = self.server.upstream.secret()
        if not secret or secret != token:
            self._drain_body()
            self._answer(401, "无效的服务器密钥")
            return False
        return True

    def agent_models(self):
        if not self._authorised():
            return
        try:
            body = json.loads(self._drain_body() or b"null")
        except ValueError:
            return self._answer(500, "服务器内部异常")
        if not isinstance(body, dict):
            return self._answer(500, "服务器内部异常")
        for field, message in (("macAddress", "设备MAC地址不能为空"), ("clientId", "客户端ID不能为空")):
            if not str(body.get(field) or "").strip():
                return self._answer(10034, message)
        if not isinstance(body.get("selectedModule"), dict):
            return self._answer(10034, "selectedModule不能为空")
        try:
            self._answer(0, data=agent_models(self.server.upstream, body["macAddress"], body["selectedModule"]))
        except ApiError as exc:
            self._answer(exc.code, exc.msg)
        except (pymysql.MySQLError, redis.RedisError) as exc:
            print(f"manager-api: {type(exc).__name__}: {exc}", flush=True)
            self._answer(500, "服务器内部异常")

    def server_base(self):
        if not self._authorised():
            return
        self._drain_body()
        try:
            up = self.server.upstream
            params = {r["param_code"]: r["param_value"] for r in up.query("SELECT param_code, param_value FROM sys_params")}
            template = up.query("SELECT vad_model_id, asr_model_id FROM ai_agent_template ORDER BY sort LIMIT 1")
            data: dict = {k: v for k, v in params.items() if k != "server.secret"}
            data["selected_module"] = {"VAD": template[0]["vad_model_id"], "ASR": template[0]["asr_model_id"]} \
                if template else {}
            self._answer(0, data=data)
        except (pymysql.MySQLError, redis.RedisError) as exc:
            print(f"manager-api: {type(exc).__name__}: {exc}", flush=True)
            self._answer(500, "服务器内部异常")


class ManagerServer(EmulatorServer):
    def __init__(self, address, upstream: Upstream):
        super().__init__(address, ManagerHandler, Knobs())
        self.upstream = upstream


def from_environment() -> Upstream:
    """The database and Redis as upstream's compose file gives them to manager-api."""
    url = os.environ.get("SPRING_DATASOURCE_DRUID_URL", "jdbc:mysql://xiaozhi-esp32-server-db:3306/xiaozhi_esp32_server")
    address, _, database = url.split("://", 1)[-1].partition("/")
    host, _, port = address.partition(":")
    db = {"host": host, "port": int(port or 3306), "database": database.split("?", 1)[0],
          "user": os.environ.get("SPRING_DATASOURCE_DRUID_USERNAME", "root"),
          "password": os.environ.get("SPRING_DATASOURCE_DRUID_PASSWORD", "")}
    cache = redis.Redis(host=os.environ.get("SPRING_DATA_REDIS_HOST", "xiaozhi-esp32-server-redis"),
                        port=int(os.environ.get("SPRING_DATA_REDIS_PORT", "6379")),
                        password=os.environ.get("SPRING_DATA_REDIS_PASSWORD") or None, decode_responses=True)
    return Upstream(db, cache)


def init_server_secret(up: Upstream) -> None:
    """SystemInitConfig at start: a blank or 'null' server.secret becomes a random UUID (which the
    operator copies into the server's data/.config.yaml)."""
    rows = up.query("SELECT param_value FROM sys_params WHERE param_code = 'server.secret'")
    if rows and str(rows[0]["param_value"] or "").strip() in ("", "null"):
        value = str(uuid.uuid4())
        up.query("UPDATE sys_params SET param_value = %s WHERE param_code = 'server.secret'", (value,))
        up.cache.hset("sys:params", "server.secret", json.dumps(value))
        up.cache.expire("sys:params", TTL)
        print("manager-api: server.secret initialised", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sandbox.manager_api", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("SANDBOX_BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args(argv)
    upstream = from_environment()
    for attempt in range(60):   # the database may still be starting (upstream: Druid retries)
        try:
            init_server_secret(upstream)
            break
        except (pymysql.MySQLError, redis.RedisError) as exc:
            if attempt == 59:
                print(f"manager-api: cannot reach the database or Redis: {exc}", flush=True)
                return 1
            time.sleep(1)
    serve(ManagerServer((args.host, args.port), upstream), "sandbox.manager_api")
    return 0


if __name__ == "__main__":
    sys.exit(main())
