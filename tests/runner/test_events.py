"""Event mode (x-openfal-events: ndjson): log capture, progress and the final result."""

import asyncio
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from pydantic import BaseModel

import openfal

from .helpers import EVENTS, events, fixture_app, log_messages, serving


class Empty(BaseModel):
    pass


async def test_prints_logs_threads_and_progress_in_order_with_result_last() -> None:
    headers = {**EVENTS, "x-fal-request-id": "req-1"}
    async with serving(fixture_app("prints_logs")) as client:
        response = await client.post("/", json={"steps": 3}, headers=headers)
    stream = events(response)
    logs = [(e["level"], e["message"]) for e in stream if e["type"] == "log"]
    assert logs == [
        ("STDOUT", "main req-1"),
        ("STDERR", "stderr req-1"),
        ("WARN", "logged req-1"),
        ("STDOUT", "thread req-1"),
        ("STDOUT", "pool req-1"),
    ]
    progress = [e for e in stream if e["type"] == "progress"]
    assert progress == [
        {"type": "progress", "step": i, "total": 3, "message": f"step {i}"} for i in (1, 2, 3)
    ]
    assert stream[-1] == {
        "type": "result",
        "status_code": 200,
        "body": {"request_id": "req-1", "steps": 3},
        "error_type": None,
        "inference_time": stream[-1]["inference_time"],
    }
    assert stream[-1]["inference_time"] >= 0
    assert response.headers["x-fal-request-id"] == "req-1"


async def test_log_events_carry_source_and_utc_timestamps() -> None:
    async with serving(fixture_app("prints_logs")) as client:
        stream = events(await client.post("/", json={"steps": 0}, headers=EVENTS))
    for event in (e for e in stream if e["type"] == "log"):
        assert event["source"] == "USER"
        moment = datetime.fromisoformat(event["timestamp"])
        assert moment.utcoffset() == timedelta(0)
        assert event["timestamp"].endswith("+00:00")


async def test_errors_are_results_and_tracebacks_are_error_logs() -> None:
    async with serving(fixture_app("crash_in_call")) as client:
        stream = events(await client.post("/", json={}, headers=EVENTS))
    [error_log] = [e for e in stream if e["type"] == "log" and e["level"] == "ERROR"]
    assert "Traceback" in error_log["message"]
    assert "crash on purpose" in error_log["message"]
    result = stream[-1]
    assert result["type"] == "result"
    assert (result["status_code"], result["body"]) == (500, {"detail": "Internal Server Error"})


async def test_invalid_input_in_event_mode_is_a_422_result() -> None:
    async with serving(fixture_app("echo")) as client:
        stream = events(await client.post("/", json={"repeat": 2}, headers=EVENTS))
    [result] = stream
    assert result["status_code"] == 422
    assert result["body"]["detail"][0]["loc"] == ["body", "message"]


async def test_partial_lines_are_flushed_before_the_result() -> None:
    class App(openfal.App):
        @openfal.endpoint("/")
        def run(self, input: Empty) -> Empty:
            sys.stdout.write("no newline")
            sys.stdout.write(" at the end")
            print("bar\rredrawn", end="")
            return input

    async with serving(App) as client:
        stream = events(await client.post("/", json={}, headers=EVENTS))
    assert log_messages(stream) == ["no newline at the endbar", "redrawn"]
    assert stream[-1]["type"] == "result"


async def test_logging_levels_and_no_duplicate_from_stream_handlers() -> None:
    logger = logging.getLogger("openfal-test-levels")

    class App(openfal.App):
        def setup(self) -> None:
            # Created while sys.stderr is the runner's tee, as logging.basicConfig would be.
            self.handler = logging.StreamHandler(sys.stderr)
            logger.addHandler(self.handler)
            logger.setLevel(logging.DEBUG)

        def teardown(self) -> None:
            logger.removeHandler(self.handler)

        @openfal.endpoint("/")
        def run(self, input: Empty) -> Empty:
            logger.debug("d")
            logger.info("i")
            logger.warning("w")
            logger.error("e")
            logger.critical("c")
            return input

    async with serving(App) as client:
        stream = events(await client.post("/", json={}, headers=EVENTS))
    logs = [(e["level"], e["message"]) for e in stream if e["type"] == "log"]
    assert logs == [("DEBUG", "d"), ("INFO", "i"), ("WARN", "w"), ("ERROR", "e"), ("ERROR", "c")]


async def test_async_endpoint_output_and_progress_from_threads() -> None:
    class App(openfal.App):
        @openfal.endpoint("/")
        async def run(self, input: Empty) -> Empty:
            print("from the loop")
            await asyncio.to_thread(openfal.report_progress, 1, 2, "in to_thread")
            thread = threading.Thread(target=openfal.report_progress, args=(2, 2))
            thread.start()
            thread.join()
            return input

    async with serving(App) as client:
        stream = events(await client.post("/", json={}, headers=EVENTS))
    assert [e["type"] for e in stream] == ["log", "progress", "progress", "result"]
    assert stream[1]["message"] == "in to_thread"
    assert stream[2]["step"] == 2


async def test_output_outside_requests_only_reaches_the_real_stream(capsys) -> None:  # type: ignore[no-untyped-def]
    class App(openfal.App):
        def setup(self) -> None:
            print("printed during setup")

        @openfal.endpoint("/")
        def run(self, input: Empty) -> Empty:
            print("printed during the request")
            return input

    async with serving(App) as client:
        stream = events(await client.post("/", json={}, headers=EVENTS))
    assert log_messages(stream) == ["printed during the request"]
    out = capsys.readouterr().out
    assert "printed during setup" in out
    assert "printed during the request" in out  # the tee still writes through


async def test_concurrent_requests_keep_their_own_logs_even_from_threads() -> None:
    both_inside = threading.Barrier(2, timeout=30)
    lines = 20

    class Tag(BaseModel):
        tag: str

    class App(openfal.App, max_multiplexing=2):
        @openfal.endpoint("/")
        def run(self, input: Tag) -> Tag:
            tag = input.tag
            print(f"{tag} main")
            both_inside.wait()  # both requests are running from here on

            def chatter() -> None:
                for i in range(lines):
                    print(f"{tag} thread {i}")

            thread = threading.Thread(target=chatter)
            thread.start()
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(lambda i: print(f"{tag} pool {i}"), range(lines)))
            thread.join()
            logging.getLogger("concurrent").warning("%s logged", tag)
            both_inside.wait()
            return input

    async with serving(App) as client:
        first, second = await asyncio.gather(
            client.post("/", json={"tag": "AAA"}, headers=EVENTS),
            client.post("/", json={"tag": "BBB"}, headers=EVENTS),
        )
    for response, tag in ((first, "AAA"), (second, "BBB")):
        messages = log_messages(events(response))
        assert len(messages) == 2 + 2 * lines
        assert all(message.startswith(f"{tag} ") for message in messages), messages
        assert f"{tag} logged" in messages
