"""A small client for Streamlit's agent API (`POST /_stcore/agent/interact`), stdlib only.

Used by the load script (bench/load.py) and the end-to-end test (tests/test_agent_api.py). The protocol,
as the running server describes it at `GET /_stcore/agent/openapi.json` (Streamlit 1.67, experimental):

* a request is JSON: `{}` or `{"page": "cache_aside", "query_params": {...}}` creates a session and runs
  the page; later requests carry `session_id`, optional `widget_state` ({element key: value}) and at most
  one `trigger` ({"key": <a button's key>}). One request is one rerun, answered once the run settles.
* the answer (a Snapshot) has `status` ("ready" or "error"), `tree` (every element as
  {type, key, props, value, data, children}, named after the st.* command that made it) and `actions`
  (the keys one may set or trigger now). A table's rows are in `data.preview.rows`.
* 202 with code `wait_timed_out` is not a failure: sending only the `session_id` collects the run.

Streamlit ends an agent session after `server.agentSessionTTL` seconds without a request; there is
nothing to close.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

INTERACT = "/_stcore/agent/interact"
OPENAPI = "/_stcore/agent/openapi.json"
MCP = "/_stcore/agent/mcp"
COLLECT_ATTEMPTS = 5          # 202 wait_timed_out: how many times to collect the same run before giving up


class AgentError(RuntimeError):
    """A refused request: `code` is the API's error code (or "http" / "network")."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" + (f" (HTTP {status})" if status else ""))
        self.code, self.status = code, status


def _post(url: str, body: dict[str, Any], timeout: float) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            payload = json.loads(err.read() or b"{}")
        except ValueError:
            payload = {}
        return err.code, payload
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise AgentError("network", str(err)) from None


def get_json(url: str, timeout: float = 10.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class Snapshot:
    """One answer of the interact operation, with the look-ups the lab's scripts need."""

    raw: dict[str, Any]

    @property
    def session_id(self) -> str:
        return self.raw["session_id"]

    @property
    def status(self) -> str:
        return self.raw.get("status", "")

    @property
    def page(self) -> str:
        return (self.raw.get("page") or {}).get("url_path", "")

    def nodes(self, type_: str | None = None) -> Iterator[dict[str, Any]]:
        """Every element of the tree, depth first in page order (only those of `type_` when given)."""
        stack = [self.raw.get("tree") or {}]
        while stack:
            node = stack.pop()
            if type_ is None or node.get("type") == type_:
                yield node
            stack.extend(reversed(node.get("children") or []))

    def texts(self, type_: str) -> list[str]:
        """The `body` of every element of this type (markdown, caption, info, text, …), in page order."""
        return [node.get("props", {}).get("body", "") for node in self.nodes(type_)]

    def dots(self) -> list[str]:
        """The DOT source of every graphviz chart on the page."""
        return [node.get("props", {}).get("figure_or_dot", "") for node in self.nodes("graphviz_chart")]

    def tables(self) -> list[dict[str, Any]]:
        """Every dataframe as {"columns": [names], "rows": [[...]]} (the preview the API sends inline)."""
        found = []
        for node in self.nodes("dataframe"):
            data = node.get("data") or {}
            found.append({"columns": [c["name"] for c in data.get("columns", [])],
                          "rows": (data.get("preview") or {}).get("rows", [])})
        return found

    def table_with(self, column: str) -> dict[str, Any] | None:
        return next((t for t in self.tables() if column in t["columns"]), None)

    def action_keys(self) -> set[str]:
        return {action["key"] for action in self.raw.get("actions", [])}

    def value(self, key: str) -> Any:
        node = next((n for n in self.nodes() if n.get("key") == key), None)
        return None if node is None else node.get("value")


class AgentClient:
    """Talks to one Streamlit server's agent API; `interact` returns a Snapshot or raises AgentError."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def openapi(self) -> dict[str, Any]:
        return get_json(self.base_url + OPENAPI, self.timeout)

    def interact(self, body: dict[str, Any]) -> Snapshot:
        status, payload = _post(self.base_url + INTERACT, body, self.timeout)
        for _ in range(COLLECT_ATTEMPTS):
            if status != 202:
                break
            # The run outlasted server.agentWaitTimeout: collect it with the session id alone.
            status, payload = _post(self.base_url + INTERACT, {"session_id": payload["session_id"]}, self.timeout)
        if status != 200:
            error = payload.get("error", payload) if isinstance(payload, dict) else {}
            raise AgentError(str(error.get("code", "http")), str(error.get("message", payload))[:500], status)
        return Snapshot(payload)

    def open(self, page: str, query_params: dict[str, list[str]] | None = None) -> Snapshot:
        """A new session, on `page` (its url_path), with these URL parameters."""
        body: dict[str, Any] = {"page": page}
        if query_params:
            body["query_params"] = query_params
        return self.interact(body)

    def set(self, session_id: str, widget_state: dict[str, Any]) -> Snapshot:
        """Set these widgets (e.g. open the request log's expander), in one request (one rerun)."""
        return self.interact({"session_id": session_id, "widget_state": widget_state})

    def click(self, session_id: str, button: str, widget_state: dict[str, Any] | None = None) -> Snapshot:
        """Set these widgets and press one button, in one request (one rerun)."""
        body: dict[str, Any] = {"session_id": session_id, "trigger": {"key": button}}
        if widget_state:
            body["widget_state"] = widget_state
        return self.interact(body)
