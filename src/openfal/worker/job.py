"""Run one claimed request on one runner: relay events, renew the lease, cancel, time out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from openfal.errors import OpenfalError
from openfal.store import LogEntry, RequestRecord, Store
from openfal.worker.frames import RunnerProtocolError, iter_frames
from openfal.worker.link import LinkLost, RunnerLink
from openfal.worker.runner_process import RunnerProcess

log = logging.getLogger("openfal.worker")

# Headers of the original request that the runner may see (the rest is platform business).
_HOP_HEADERS = {
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "authorization",
    "accept-encoding",
    "keep-alive",
    "upgrade",
}


CANCEL_CHECK = 0.2  # seconds between reads of the record for a cancel
WATCH_AFTER = 0.05  # seconds a request runs before its lease, cancel and timeout are watched
RESULT_GRACE = 5.0  # seconds a runner gets to close its stream after the result line
STOP_LIMIT = 60.0  # seconds a healthy runner gets to finish its step after a cancel, at most
HEALTH_CHECK = 1.0  # seconds between (and timeout of) its health checks meanwhile


@dataclass
class DispatchConfig:
    lease_ttl: float = 30.0
    cancel_grace: float = 1.0  # how long a runner may take to stop a cancelled request
    request_timeout: float | None = None


class RunnerLost(OpenfalError):
    """The runner stopped answering in the middle of a request."""


async def run_request(
    store: Store,
    http: httpx.AsyncClient,
    runner: RunnerProcess,
    rec: RequestRecord,
    worker_id: str,
    cfg: DispatchConfig,
) -> bool:
    """Run ``rec`` on ``runner``. Returns False when the runner must be replaced."""
    job = _Job(store, http, runner, rec, worker_id, cfg)
    return await job.run()


class _Job:
    def __init__(
        self,
        store: Store,
        http: httpx.AsyncClient,
        runner: RunnerProcess,
        rec: RequestRecord,
        worker_id: str,
        cfg: DispatchConfig,
    ) -> None:
        self.store, self.http, self.runner, self.rec = store, http, runner, rec
        self.worker_id, self.cfg = worker_id, cfg
        self.ended: str | None = None  # "cancel" | "timeout" once the platform ended it
        self.cancel_answered = False  # the cancel is stored while the runner finishes a step
        self.got_result = asyncio.Event()
        self.over = False  # run() is done with the request: the watch must stop
        self._logs: list[LogEntry] = []  # received, not stored yet
        self._log_lock = asyncio.Lock()
        self._log_flush: asyncio.Task[None] | None = None
        self.published = 0  # partial outputs (events) relayed so far
        self.steps = False  # whether the app reports progress (so stops at its next step)
        self.started = 0.0  # loop time run() began

    async def run(self) -> bool:
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        relay = asyncio.create_task(self._relay())
        watch: asyncio.Task[None] | None = None
        try:
            # most requests end within moments: the watch (lease, cancel, timeout) starts
            # only for those that do not, and counts its deadline from the start
            await asyncio.wait({relay}, timeout=min(WATCH_AFTER, self.cfg.request_timeout or 1))
            if not relay.done():
                watch = asyncio.create_task(self._watch())
                await asyncio.wait({relay, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not relay.done():
                # the watcher ended the request (give the runner its grace period), or saw
                # its result while the runner closes the stream
                if self.ended:
                    await self._wait_while_healthy(relay)
                else:
                    await asyncio.wait({relay}, timeout=RESULT_GRACE)
            if relay.done() and relay.exception() is None:
                return True
            if not relay.done() and self.got_result.is_set() and not self.ended:
                return True  # answered; a stream that does not close is not worth a restart
            if relay.done() and isinstance(relay.exception(), RunnerLost) and not self.ended:
                if self.rec.mode == "stream" and self.published:
                    # Its caller already has part of the output: a rerun would repeat it.
                    await self._fail(
                        503,
                        f"Runner disconnected after {self.published} events: {relay.exception()}",
                        "runner_disconnected",
                    )
                    return False
                await self.store.requeue(
                    self.rec.id,
                    self.worker_id,
                    f"Runner disconnected: {relay.exception()}",
                    "runner_disconnected",
                )
                return False
            # the runner did not stop in time (or died while stopping): it is replaced
            await self._finish_ended()
            return False
        finally:
            self.over = True
            tasks = [relay] if watch is None else [relay, watch]
            for t in tasks:
                if not t.done():
                    t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._logs or self._log_lock.locked():  # lines not stored yet
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._flush_logs())

    # -- the runner's event stream

    async def _relay(self) -> None:
        try:
            if self.runner.link is not None and not self.runner.link.closed:
                await self._relay_link(self.runner.link)
            else:
                await self._relay_http()
        except RunnerProtocolError as e:
            await self._protocol_error(e)
        if not self.got_result.is_set():
            raise RunnerLost("event stream ended without a result")

    async def _relay_link(self, link: RunnerLink) -> None:
        """The request on the runner's link: frames in, the input bytes as they are."""
        headers = {k: v for k, v in self.rec.headers.items() if k.lower() not in _HOP_HEADERS}
        try:
            async for frame in link.run(self.rec.id, self.rec.path, headers, self.rec.input):
                await self._on_event(frame)
        except LinkLost as e:
            raise RunnerLost(str(e)) from e

    async def _relay_http(self) -> None:
        """The request as an HTTP POST answered with NDJSON events (no link)."""
        headers = {k: v for k, v in self.rec.headers.items() if k.lower() not in _HOP_HEADERS}
        headers.update(
            {
                "x-fal-request-id": self.rec.id,
                "x-openfal-events": "ndjson",
                "content-type": "application/json",
            }
        )
        url = f"{self.runner.url}/{self.rec.path}"
        try:
            async with self.http.stream(
                "POST",
                url,
                content=self.rec.input,
                headers=headers,
                timeout=httpx.Timeout(None, connect=10.0),
            ) as resp:
                if resp.headers.get("content-type", "").startswith("application/x-ndjson"):
                    async for frame in iter_frames(resp.aiter_bytes()):
                        await self._on_event(frame)
                else:  # not our protocol (should not happen): take the body as the result
                    body = await resp.aread()
                    await self._complete(resp.status_code, body, None, {})
        except httpx.HTTPError as e:
            raise RunnerLost(f"{type(e).__name__}: {e}") from e

    async def _on_event(self, ev: dict[str, Any]) -> None:
        kind = ev.get("type")
        if kind == "log":
            self._queue_log(
                LogEntry(
                    message=str(ev.get("message", "")),
                    level=str(ev.get("level", "INFO")),
                    source=str(ev.get("source", "USER")),
                    timestamp=str(ev.get("timestamp", "")),
                )
            )
            return
        await self._flush_logs()  # logs first: a status never shows a result before them
        if kind == "progress":
            self.steps = True  # it checks for a cancel at each step
            await self.store.set_progress(
                self.rec.id,
                {"step": ev.get("step"), "total": ev.get("total"), "message": ev.get("message")},
            )
        elif kind == "event":
            await self.store.publish_event(self.rec.id, _json_bytes(ev.get("data")))
            self.published += 1
        elif kind == "result":
            metrics = {}
            if ev.get("inference_time") is not None:
                metrics["inference_time"] = ev["inference_time"]
            body = _json_bytes(ev.get("body"))
            await self._complete(
                int(ev.get("status_code", 200)), body, ev.get("error_type"), metrics
            )

    def _queue_log(self, entry: LogEntry) -> None:
        """Lines that arrive together are stored together: one write per burst."""
        self._logs.append(entry)
        if self._log_flush is None or self._log_flush.done():
            self._log_flush = asyncio.create_task(self._flush_logs())

    async def _flush_logs(self) -> None:
        async with self._log_lock:
            entries, self._logs = self._logs, []
            if entries:
                await self.store.append_logs(self.rec.id, entries)

    async def _protocol_error(self, e: RunnerProtocolError) -> None:
        """Fail this one request at once; the runner keeps serving the others."""
        if self.got_result.is_set():
            return  # junk after the result: the answer stands
        self.got_result.set()
        await self._forward_cancel()
        if self.ended in ("timeout", "lost"):
            return
        await self._fail(502, f"Runner sent an invalid event: {e}", "runner_protocol_error")

    async def _complete(
        self, status: int, body: bytes, error_type: str | None, metrics: dict[str, Any]
    ) -> None:
        self.got_result.set()
        if self.ended in ("timeout", "lost") or self.cancel_answered:
            return  # already answered elsewhere; keep that answer
        error = None
        headers = {}
        if status >= 400:
            error = _detail_text(body) or f"Invalid status code: {status}"
            error_type = error_type or ("client_cancelled" if status == 499 else None)
            if error_type:
                headers["x-fal-error-type"] = error_type
        await self.store.complete(
            self.rec.id,
            status_code=status,
            body=body,
            headers=headers,
            metrics=metrics,
            error=error,
            error_type=error_type,
            worker_id=self.worker_id,
        )

    # -- lease, cancel and timeout

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.cfg.request_timeout
        deadline = self.started + timeout if timeout else None
        renew_every = max(self.cfg.lease_ttl / 3, 0.05)
        next_renew = self.started + renew_every
        last_check = loop.time()
        if await self._cancel_requested():  # before the watch began
            return
        while True:
            wait = next_renew - loop.time()
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
            # capped so a cancel written by another process (CLI, gateway) is seen promptly
            await self.store.wait_for_change(self.rec.id, min(max(wait, 0.0), 1.0))
            if self.got_result.is_set() or self.over:
                # run() cancels this task once the result is in, but on Python 3.11
                # asyncio.wait_for swallows a cancel that lands as its wait completes
                # (the completion itself wakes us): without this check the job, and
                # the runner slot it holds, would linger until the next lease renewal.
                return
            if deadline is not None and loop.time() >= deadline:
                self.ended = "timeout"
                await self._on_timeout()
                return
            if loop.time() >= next_renew:
                next_renew = loop.time() + renew_every
                if not await self.store.renew_lease(
                    self.rec.id, self.worker_id, self.cfg.lease_ttl
                ):
                    rec = await self.store.get(self.rec.id)
                    if rec is None or rec.is_done:
                        await self._forward_cancel()
                        self.ended = "lost"
                        return
            # Every log line and progress report wakes this loop; read the record at most
            # every CANCEL_CHECK seconds so chatty apps don't double the store traffic.
            since = loop.time() - last_check
            if since < CANCEL_CHECK:
                await asyncio.sleep(CANCEL_CHECK - since)
            last_check = loop.time()
            if await self._cancel_requested():
                return

    async def _cancel_requested(self) -> bool:
        """Read the record: when a cancel was asked for, stop the runner's work."""
        rec = await self.store.get(self.rec.id)
        if rec is None or not rec.cancel_requested:
            return False
        self.ended = "cancel"
        await self._forward_cancel()
        return True

    async def _on_timeout(self) -> None:
        timeout = self.cfg.request_timeout
        await self._fail(504, f"Request timed out after {timeout:g} seconds", "request_timeout")
        await self._forward_cancel()

    async def _wait_while_healthy(self, relay: asyncio.Task[None]) -> None:
        """After a cancel or timeout: ``cancel_grace`` seconds for the runner to stop. An app
        that reports progress stops at its next step: it gets more (up to ``STOP_LIMIT``)
        while its runner answers ``/health``, so a step longer than the grace (a diffusion
        step on a CPU) does not cost the next request a cold start. An app that never
        checks (no progress reported), or a runner that stops answering, is replaced."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(STOP_LIMIT, self.cfg.cancel_grace)
        await asyncio.wait({relay}, timeout=self.cfg.cancel_grace)
        if self.steps and not relay.done():
            # the caller is answered now; the runner's slot stays taken until its step ends
            await self._finish_ended()
        while self.steps and not relay.done() and loop.time() < deadline and await self._healthy():
            await asyncio.wait({relay}, timeout=HEALTH_CHECK)

    async def _healthy(self) -> bool:
        try:
            r = await self.http.get(f"{self.runner.url}/health", timeout=HEALTH_CHECK)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    async def _fail(self, status: int, error: str, error_type: str) -> None:
        await self.store.fail(
            self.rec.id,
            status,
            error,
            error_type,
            worker_id=self.worker_id,
            headers={"x-fal-error-type": error_type},
        )

    async def _forward_cancel(self) -> None:
        link = self.runner.link
        if link is not None and not link.closed:
            link.cancel(self.rec.id)
            return
        with contextlib.suppress(httpx.HTTPError):
            path = f"/{self.rec.path}/cancel" if self.rec.path else "/cancel"
            await self.http.post(
                f"{self.runner.url}{path}", headers={"x-fal-request-id": self.rec.id}, timeout=5.0
            )

    async def _finish_ended(self) -> None:
        if self.ended == "cancel" and not self.cancel_answered:
            self.cancel_answered = True
            await self._fail(499, "Request was cancelled", "client_cancelled")
        # "timeout" was answered when it fired; "lost" is someone else's now


def _json_bytes(value: Any) -> bytes:
    """JSON as stored: the link's frames carry it already serialised, NDJSON lines parsed."""
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def _detail_text(body: bytes) -> str | None:
    with contextlib.suppress(ValueError):
        data = json.loads(body)
        if isinstance(data, dict) and "detail" in data:
            detail = data["detail"]
            return detail if isinstance(detail, str) else json.dumps(detail)
    return None
