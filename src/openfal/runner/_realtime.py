"""WebSocket endpoints of a runner: `@realtime` sessions and raw `is_websocket` endpoints.

A realtime session reads msgpack frames into a queue that keeps the newest `buffering`
inputs, and a worker calls the method on them one batch at a time, sending each output
back as a msgpack frame. Input and app errors are `x-fal-error` text frames and the
session goes on; after `session_timeout` seconds without input it says TIMEOUT and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, cast

import msgpack
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from starlette.exceptions import HTTPException
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from openfal.errors import OpenfalError
from openfal.runner._invoke import AsyncCall, validation_detail
from openfal.runner._runner import Runner
from openfal.runner._stream import IterCall
from openfal.sdk import AppException, Endpoint, RealtimeSpec, RequestContext, bind_request

__all__ = ["MAX_BUFFERING", "buffering_for", "raw_handler", "realtime_handler"]

logger = logging.getLogger("openfal.runner")

MAX_BUFFERING = 60  # the clients' own bound on ?max_buffering=
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011


class _ClientGone(OpenfalError):
    """Sending failed: the client has left."""


def buffering_for(spec: RealtimeSpec, requested: str | None) -> int | None:
    """The queue bound of a session: the app's `buffering`, lowered by `?max_buffering=`.

    Raises ValueError naming the parameter when it is not an integer in 1..60.
    """
    if requested is None:
        return spec.buffering
    if not requested.isdigit() or not 1 <= int(requested) <= MAX_BUFFERING:
        raise ValueError(f"max_buffering must be an integer from 1 to {MAX_BUFFERING}")
    return min(int(requested), spec.buffering or MAX_BUFFERING)


def realtime_handler(path: str) -> Callable[[WebSocket], Awaitable[None]]:
    """The websocket handler of the `@realtime` endpoint at `path`."""

    async def handle(websocket: WebSocket) -> None:
        runner: Runner = websocket.app.state.runner
        found = runner.websockets[path]
        assert found.realtime is not None
        try:
            buffering = buffering_for(found.realtime, websocket.query_params.get("max_buffering"))
        except ValueError as exc:
            await websocket.close(POLICY_VIOLATION, str(exc))
            return
        await _Session(websocket, runner, found, found.realtime, buffering).run()

    return handle


def raw_handler(path: str) -> Callable[[WebSocket], Awaitable[None]]:
    """The websocket handler of the raw `is_websocket=True` endpoint at `path`."""

    async def handle(websocket: WebSocket) -> None:
        runner: Runner = websocket.app.state.runner
        method = getattr(runner.instance, runner.websockets[path].method_name)
        with bind_request(_context(websocket)):
            try:
                await method(websocket)
            except WebSocketDisconnect:
                return
            except Exception:
                logger.exception("websocket endpoint /%s failed", path)
                if websocket.application_state is not WebSocketState.DISCONNECTED:
                    with contextlib.suppress(RuntimeError):
                        await websocket.close(INTERNAL_ERROR)

    return handle


def _context(websocket: WebSocket) -> RequestContext:
    session_id = websocket.headers.get("x-fal-request-id") or str(uuid.uuid4())
    return RequestContext(session_id, dict(websocket.headers))


def error_frame(error: str, reason: str, **extra: Any) -> str:
    """An `x-fal-error` text frame, as both official clients parse it."""
    return json.dumps({"type": "x-fal-error", "error": error, "reason": reason, **extra})


def _pack(output: Any) -> bytes:
    # bytes stay bytes (image frames); anything msgpack cannot carry goes as its JSON form
    packed: bytes = msgpack.packb(output, use_bin_type=True, default=to_jsonable_python)
    return packed


def _python_value(output: Any, model: type[BaseModel] | None) -> Any:
    if model is not None:
        output = model.model_validate(output, from_attributes=True)
    if isinstance(output, BaseModel):
        return output.model_dump(by_alias=True)
    return output


class _Session:
    def __init__(
        self,
        websocket: WebSocket,
        runner: Runner,
        endpoint: Endpoint,
        spec: RealtimeSpec,
        buffering: int | None,
    ) -> None:
        self.websocket, self.endpoint, self.spec = websocket, endpoint, spec
        self.call = runner.calls[endpoint.path]
        self.context = _context(websocket)
        self.pending: deque[BaseModel] = deque(maxlen=buffering)
        self.arrived = asyncio.Event()  # set when inputs are pending or reading has ended
        self.reading = True
        self.sending = asyncio.Lock()

    async def run(self) -> None:
        await self.websocket.accept()
        reader = asyncio.create_task(self._read())
        worker = asyncio.create_task(self._work())
        try:
            if await reader == "timeout":
                await worker  # answer what already arrived, then say goodbye
                await self._send(error_frame("TIMEOUT", "no inputs, reconnect when needed!"))
                await self.websocket.close(1000)
        except _ClientGone:
            pass
        finally:
            for task in (reader, worker):
                task.cancel()
            await asyncio.gather(reader, worker, return_exceptions=True)

    async def _read(self) -> str:
        """Queue decoded inputs until the client leaves ("closed") or is idle ("timeout")."""
        try:
            while True:
                try:
                    message = await asyncio.wait_for(
                        self.websocket.receive(), self.spec.session_timeout
                    )
                except TimeoutError:
                    return "timeout"
                if message["type"] == "websocket.disconnect":
                    return "closed"
                value = await self._decode(message)
                if value is not None:
                    self.pending.append(value)  # a full queue drops its oldest input
                    self.arrived.set()
        finally:
            self.reading = False
            self.arrived.set()

    async def _decode(self, message: Mapping[str, Any]) -> BaseModel | None:
        assert self.endpoint.input_model is not None
        raw = message.get("bytes")
        try:
            data = (
                msgpack.unpackb(raw, raw=False) if raw is not None else json.loads(message["text"])
            )
        except (ValueError, msgpack.UnpackException) as exc:
            reason = f"not a msgpack or JSON frame: {exc}"
            detail = [{"loc": ["body"], "msg": reason, "type": "decode"}]
            await self._send(error_frame("VALIDATION_ERROR", reason, detail=detail))
            return None
        try:
            return self.endpoint.input_model.model_validate(data)
        except ValidationError as exc:
            detail = validation_detail(exc)
            reason = "; ".join(
                f"{'.'.join(map(str, d['loc'][1:])) or 'body'}: {d['msg']}" for d in detail
            )
            await self._send(error_frame("VALIDATION_ERROR", reason, detail=detail))
            return None

    async def _work(self) -> None:
        """Answer pending inputs, oldest first, until reading has ended and none is left."""
        while self.reading or self.pending:
            await self.arrived.wait()
            batch: list[BaseModel] = []
            while self.pending and len(batch) < self.spec.max_batch_size:
                batch.append(self.pending.popleft())
            if not self.pending and self.reading:
                self.arrived.clear()
            if batch:
                await self._answer(batch)

    async def _answer(self, inputs: list[BaseModel]) -> None:
        with bind_request(self.context):
            try:
                async for output in self._outputs(inputs):
                    await self._send(_pack(_python_value(output, self.endpoint.output_model)))
            except _ClientGone:
                raise
            except (AppException, HTTPException) as exc:
                await self._send(error_frame("INTERNAL_ERROR", str(exc.detail)))
            except Exception:
                logger.exception("realtime endpoint /%s failed", self.endpoint.path)
                await self._send(error_frame("INTERNAL_ERROR", "Internal Server Error"))

    async def _outputs(self, inputs: list[BaseModel]) -> AsyncIterator[Any]:
        if not self.endpoint.is_generator:
            yield await cast(AsyncCall, self.call)(*inputs)
            return
        items = cast(IterCall, self.call)(*inputs)
        async with contextlib.aclosing(items):
            async for item in items:
                yield item

    async def _send(self, frame: bytes | str) -> None:
        async with self.sending:
            try:
                if isinstance(frame, bytes):
                    await self.websocket.send_bytes(frame)
                else:
                    await self.websocket.send_text(frame)
            except (WebSocketDisconnect, RuntimeError, OSError) as exc:
                raise _ClientGone() from exc
