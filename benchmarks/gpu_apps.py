"""Image apps through openfal vs the same pipeline called directly, side by side.

    .venv/bin/python benchmarks/gpu_apps.py [--images 8] [--demo-weights] [--apps-config F]

On CUDA it uses the operator's weights (``--apps-config``, ``OPENFAL_WEIGHTS_*``) or demo
weights, at fal's default sizes and steps. Without CUDA it falls back to demo weights at
small sizes and few steps, so it runs anywhere. For every image endpoint it prints images/s
through ``openfal serve`` (a direct-run POST per call: queue, runner, encoding, storage)
and images/s of the same diffusers pipeline called in this process with the same
arguments, and their ratio.

On CUDA the two sides run one after the other (openfal first, then the server is stopped),
so a GPU never holds two copies of the weights; on a CPU they take turns round by round, so
both see the same background load. Each number is the median of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import base64
import gc
import io
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent


@dataclass
class Case:
    """One endpoint: its request body and the pipeline call it makes."""

    endpoint: str
    weights: str  # the pipeline key of openfal.apps._settings.WEIGHT_KEYS
    pipeline: str  # the diffusers class the app loads
    body: dict[str, Any]
    call: dict[str, Any] = field(default_factory=dict)  # the direct call's arguments


def _input_image(size: int) -> tuple[str, Any]:
    from PIL import Image

    image = Image.new("RGB", (size, size), (180, 90, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), image


def cases(cuda: bool) -> list[Case]:
    big, small = (1024, 512) if cuda else (256, 256)
    steps = (
        {"dev": 28, "schnell": 4, "sdxl": 25, "lcm": 4}
        if cuda
        else {
            "dev": 4,
            "schnell": 2,
            "sdxl": 4,
            "lcm": 4,
        }
    )
    url, image = _input_image(small)
    size = {"width": big, "height": big}
    flux = {"prompt": "a red fox in snow", "image_size": size, "seed": 1}
    sdxl = {"prompt": "a red fox in snow", "image_size": size, "seed": 1, "format": "jpeg"}
    return [
        Case(
            "fal-ai/flux/dev",
            "flux-dev",
            "FluxPipeline",
            {**flux, "num_inference_steps": steps["dev"]},
            {"width": big, "height": big, "guidance_scale": 3.5},
        ),
        Case(
            "fal-ai/flux/schnell",
            "flux-schnell",
            "FluxPipeline",
            {**flux, "num_inference_steps": steps["schnell"]},
            {"width": big, "height": big, "guidance_scale": 3.5},
        ),
        Case(
            "fal-ai/fast-sdxl",
            "sdxl",
            "StableDiffusionXLPipeline",
            {**sdxl, "num_inference_steps": steps["sdxl"]},
            {"width": big, "height": big, "guidance_scale": 7.5},
        ),
        Case(
            "fal-ai/fast-sdxl/image-to-image",
            "sdxl",
            "StableDiffusionXLImg2ImgPipeline",
            {
                **sdxl,
                "image_url": url,
                "image_size": None,
                "strength": 0.95,
                "num_inference_steps": steps["sdxl"],
            },
            {"image": image, "strength": 0.95, "guidance_scale": 7.5},
        ),
        Case(
            "fal-ai/lcm-sd15-i2i",
            "lcm-sd15",
            "StableDiffusionImg2ImgPipeline",
            {
                "prompt": "a red fox in snow",
                "image_url": url,
                "strength": 0.8,
                "seed": 1,
                "num_inference_steps": steps["lcm"],
            },
            {"image": image, "strength": 0.8, "guidance_scale": 1.0},
        ),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(data: Path, demo: bool, config: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "openfal", "serve", "--port", str(port), "--data-dir", str(data)]
    cmd += ["--demo-weights"] if demo else []
    cmd += ["--apps-config", config] if config else []
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"openfal serve did not start; see {data / 'serve.log'}")


def openfal_call(http: httpx.Client, case: Case) -> Callable[[], None]:
    """One direct-run POST of ``case`` (queue, runner, pipeline, encoding, storage)."""

    def call() -> None:
        response = http.post(f"/{case.endpoint}", json=case.body)
        response.raise_for_status()
        assert len(response.json()["images"]) == 1

    return call


def direct_call(data: Path, demo: bool, case: Case) -> Callable[[], None]:
    """The same pipeline, loaded the way the app loads it, called in this process."""
    import torch

    from openfal.apps._pipelines import (
        choose_placement,
        load_pipeline,
        quiet_libraries,
        resolve_weights,
        seeded_generator,
    )
    from openfal.apps._settings import settings

    env = {**os.environ, "OPENFAL_DATA_DIR": str(data)}
    if demo:
        env["OPENFAL_DEMO_WEIGHTS"] = "1"
    quiet_libraries()
    config = settings(env)
    placement = choose_placement(config.device)
    pipe = load_pipeline(case.pipeline, resolve_weights(config, case.weights), placement)
    if case.pipeline == "StableDiffusionImg2ImgPipeline":
        import diffusers

        pipe.scheduler = diffusers.LCMScheduler.from_config(pipe.scheduler.config)

    def call() -> None:
        pipe(
            prompt=case.body["prompt"],
            num_inference_steps=case.body["num_inference_steps"],
            generator=seeded_generator(1),
            **case.call,
        )
        if placement.is_cuda:
            torch.cuda.synchronize()

    return call


def timed(call: Callable[[], None], images: int) -> float:
    """Images/s of ``images`` calls, after one untimed warm-up call."""
    call()
    started = time.perf_counter()
    for _ in range(images):
        call()
    return images / (time.perf_counter() - started)


Rates = dict[str, list[float]]


def sequential(
    url: str, data: Path, demo: bool, selected: list[Case], args: Any
) -> tuple[Rates, Rates]:
    """CUDA: every openfal round, then the server stops, then every direct round, one
    pipeline at a time, so the GPU never holds two copies of the weights."""
    import torch

    with httpx.Client(base_url=url, timeout=1800) as http:
        served = {
            c.endpoint: [timed(openfal_call(http, c), args.images) for _ in range(args.rounds)]
            for c in selected
        }
    args.stop_server()
    inline: Rates = {}
    for case in selected:
        call = direct_call(data, demo, case)
        inline[case.endpoint] = [timed(call, args.images) for _ in range(args.rounds)]
        del call
        gc.collect()  # the last pipeline's weights leave the GPU before the next
        torch.cuda.empty_cache()
    return served, inline


def interleaved(
    url: str, data: Path, demo: bool, selected: list[Case], args: Any
) -> tuple[Rates, Rates]:
    """CPU: openfal and direct take turns, round after round, so both see the same load."""
    served: Rates = {c.endpoint: [] for c in selected}
    inline: Rates = {c.endpoint: [] for c in selected}
    calls = {c.endpoint: direct_call(data, demo, c) for c in selected}
    with httpx.Client(base_url=url, timeout=1800) as http:
        for _ in range(args.rounds):
            for case in selected:
                served[case.endpoint].append(timed(openfal_call(http, case), args.images))
                inline[case.endpoint].append(timed(calls[case.endpoint], args.images))
    return served, inline


def report(selected: list[Case], served: Rates, inline: Rates, header: str) -> None:
    print(header)
    print(
        f"{'endpoint':34} {'size':>9} {'steps':>5} {'openfal img/s':>14} "
        f"{'direct img/s':>13} {'ratio':>6}"
    )
    for case in selected:
        width = case.call.get("width") or case.call["image"].width
        size = f"{width}x{case.call.get('height') or case.call['image'].height}"
        ours, theirs = (statistics.median(r[case.endpoint]) for r in (served, inline))
        print(
            f"{case.endpoint:34} {size:>9} {case.body['num_inference_steps']:>5} "
            f"{ours:>14.3f} {theirs:>13.3f} {ours / theirs:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=8, help="timed images per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (median kept)")
    parser.add_argument("--demo-weights", action="store_true", help="demo weights on CUDA too")
    parser.add_argument("--apps-config", default=None, help="TOML with the real weights")
    parser.add_argument("--only", default=None, help="one endpoint, e.g. fal-ai/flux/schnell")
    args = parser.parse_args()

    import torch

    cuda = torch.cuda.is_available()
    demo = args.demo_weights or not cuda
    selected = [c for c in cases(cuda) if args.only in (None, c.endpoint)]
    with tempfile.TemporaryDirectory(prefix="openfal-bench-") as tmp:
        data = Path(tmp)
        proc, url = start_serve(data, demo, args.apps_config)

        def stop_server() -> None:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)

        args.stop_server = stop_server
        try:
            measure = sequential if cuda else interleaved
            served, inline = measure(url, data, demo, selected, args)
        finally:
            stop_server()

    device = torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)"
    threads = os.environ.get("OMP_NUM_THREADS", str(torch.get_num_threads()))
    report(
        selected,
        served,
        inline,
        f"device: {device}; torch threads {threads}; weights: {'demo' if demo else 'configured'};"
        f" torch {torch.__version__}; python {platform.python_version()}; median of "
        f"{args.rounds} rounds of {args.images} images",
    )


if __name__ == "__main__":
    main()
