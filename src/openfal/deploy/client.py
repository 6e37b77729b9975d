"""A small admin client for a running server, shaped like fal's ``SyncServerlessClient``::

    from openfal.deploy.client import SyncServerlessClient

    client = SyncServerlessClient(url="http://127.0.0.1:8000", key=os.environ.get("FAL_KEY"))
    rev = client.deploy("app.py::Figlet", app_name="acme/figlet")   # waits until serving
    client.apps.list(); client.apps.scale("acme/figlet", min_concurrency=1)
    client.apps.list_rev("acme/figlet"); client.apps.set_rev("acme/figlet", rev["revision"])
    client.secrets.set("HF_TOKEN", "..."); client.runners.list("acme/figlet")

Errors from the server raise :class:`AdminError` with its status and detail.
"""

from __future__ import annotations

import base64
import builtins
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from openfal.deploy.source import pack
from openfal.errors import OpenfalError

DEFAULT_URL = "http://127.0.0.1:8000"


class AdminError(OpenfalError):
    """The server refused an admin call: its HTTP ``status`` and ``detail``."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


class _Api:
    def __init__(self, url: str | None, key: str | None, timeout: float) -> None:
        self.url = (url or os.environ.get("OPENFAL_URL") or DEFAULT_URL).rstrip("/")
        key = key if key is not None else os.environ.get("FAL_KEY")
        headers = {"authorization": f"Key {key}"} if key else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.http.request(method, path, **kwargs)
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
            raise AdminError(resp.status_code, detail)
        return resp.json()


class Apps:
    def __init__(self, api: _Api) -> None:
        self._api = api

    def list(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._api.call("GET", "/rest/apps")
        return result

    def get(self, app_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._api.call("GET", f"/rest/apps/{app_id}")
        return result

    def list_rev(self, app_id: str) -> builtins.list[dict[str, Any]]:
        revisions: builtins.list[dict[str, Any]] = self.get(app_id)["revisions"]
        return revisions

    def revision(self, app_id: str, revision: str, since: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self._api.call(
            "GET", f"/rest/apps/{app_id}/revisions/{revision}", params={"since": since}
        )
        return result

    def set_rev(self, app_id: str, revision: str) -> dict[str, Any]:
        result: dict[str, Any] = self._api.call(
            "PUT", f"/rest/apps/{app_id}/revision", json={"revision": revision}
        )
        return result

    def scale(self, app_id: str, **settings: Any) -> dict[str, Any]:
        """min_concurrency, max_concurrency, keep_alive, max_multiplexing,
        concurrency_buffer, scaling_delay, request_timeout, startup_timeout."""
        result: dict[str, Any] = self._api.call(
            "PATCH", f"/rest/apps/{app_id}/scaling", json=settings
        )
        return result

    def delete(self, app_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._api.call("DELETE", f"/rest/apps/{app_id}")
        return result

    def logs(self, app_id: str, revision: str | None = None) -> dict[str, Any]:
        params = {"revision": revision} if revision else {}
        result: dict[str, Any] = self._api.call("GET", f"/rest/apps/{app_id}/logs", params=params)
        return result

    def wait(
        self,
        app_id: str,
        revision: str,
        on_log: Callable[[str], None] | None = None,
        timeout: float = 1800.0,
    ) -> dict[str, Any]:
        """Poll until ``revision`` serves or failed; ``on_log`` gets each build line."""
        since, deadline = 0, time.monotonic() + timeout
        while True:
            rev = self.revision(app_id, revision, since)
            for line in rev["logs"]:
                if on_log is not None:
                    on_log(line)
            since = rev["next"]
            if rev["state"] == "FAILED" or (rev["serving"] and rev["state"] == "LIVE"):
                return rev
            if time.monotonic() > deadline:
                raise TimeoutError(f"revision {revision} was not serving within {timeout:g}s")
            time.sleep(0.2)


class Secrets:
    def __init__(self, api: _Api) -> None:
        self._api = api

    def set(self, name: str, value: str) -> dict[str, Any]:
        result: dict[str, Any] = self._api.call(
            "PUT", f"/rest/secrets/{name}", json={"value": value}
        )
        return result

    def list(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._api.call("GET", "/rest/secrets")
        return result

    def unset(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._api.call("DELETE", f"/rest/secrets/{name}")
        return result


class Runners:
    def __init__(self, api: _Api) -> None:
        self._api = api

    def list(self, app_id: str | None = None) -> list[dict[str, Any]]:
        params = {"app_id": app_id} if app_id else {}
        result: list[dict[str, Any]] = self._api.call("GET", "/rest/runners", params=params)
        return result

    def logs(self, runner_id: str, since: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self._api.call(
            "GET", f"/rest/runners/{runner_id}/logs", params={"since": since}
        )
        return result

    def kill(self, runner_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._api.call("DELETE", f"/rest/runners/{runner_id}")
        return result


class SyncServerlessClient:
    """Deploy to and manage a running openfal server (``url`` defaults to
    ``$OPENFAL_URL``, ``key`` to ``$FAL_KEY``; an ADMIN key once the server has keys)."""

    def __init__(self, url: str | None = None, key: str | None = None, timeout: float = 60.0):
        self._api = _Api(url, key, timeout)
        self.url = self._api.url
        self.apps = Apps(self._api)
        self.secrets = Secrets(self._api)
        self.runners = Runners(self._api)

    def submit_revision(
        self,
        ref: str,
        *,
        app_name: str | None = None,
        strategy: str = "rolling",
        folder: Path | None = None,
    ) -> dict[str, Any]:
        """Send the source; returns the new revision (building) without waiting."""
        packed = pack(ref, folder)
        body = {
            "entry": packed.entry,
            "archive": packed.archive,
            "source": base64.b64encode(packed.data).decode(),
            "app_name": app_name,
            "strategy": strategy,
        }
        result: dict[str, Any] = self._api.call("POST", "/rest/apps/deploy", json=body)
        return result

    def deploy(
        self,
        ref: str,
        *,
        app_name: str | None = None,
        strategy: str = "rolling",
        folder: Path | None = None,
        on_log: Callable[[str], None] | None = None,
        timeout: float = 1800.0,
    ) -> dict[str, Any]:
        """Deploy ``FILE.py::Class`` and wait until it serves (or failed: ``state``)."""
        rev = self.submit_revision(ref, app_name=app_name, strategy=strategy, folder=folder)
        done = self.apps.wait(rev["app_id"], rev["revision"], on_log, timeout)
        return {**done, "urls": rev["urls"]}

    def close(self) -> None:
        self._api.http.close()

    def __enter__(self) -> SyncServerlessClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
