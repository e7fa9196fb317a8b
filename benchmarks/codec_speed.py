"""Speed of the phone-to-cloud codec: device-side encoding and the decode service under load.

Device side: ``DeviceEncoder`` (onnxruntime with one thread + constriction, no torch)
compressing one MNIST test image per call: median / p99 latency and throughput,
next to peers measured in the same run (Pillow WebP at quality 0 on the same
image; the torch encoder path ``Codec.compress``). Cloud side: ``aekit serve``
in a subprocess on 127.0.0.1, loaded by a bounded number of concurrent
keep-alive clients (asyncio, raw HTTP/1.1) posting single-image bitstreams for
a bounded time: requests per second and p50 / p99 / max latency, with the service's
batching of concurrent requests (the default) and, in the same run, without it
(``--no-batching``) as the reference. Both share the same two CPU cores, so the
service figure includes the load generator's cost. ``--load wrk`` drives the
load with wrk (a C load generator: less of the shared cores than the Python one);
``--before SRC`` also serves the same load from another source tree (e.g. main's
``src``), in the same run, for a before/after figure.

    python benchmarks/codec_speed.py --model benchmarks/runs/codec_rd/long_lmbda_0.003
    python benchmarks/codec_speed.py --service-only --load wrk --clients 64 --before /work/main/src
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))

from aekit.codec.device import DeviceEncoder  # noqa: E402
from aekit.data import load_mnist  # noqa: E402
from aekit.io import atomic_write_text  # noqa: E402

GOAL = {"encode_median_ms": 1.0, "service_rps": 2000, "service_p99_ms": 50, "service_max_ms": 1000}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--model",
        default=str(HERE / "runs" / "codec_rd" / "long_lmbda_0.003"),
        help="codec directory (default: the longer run of codec_rd.py)",
    )
    p.add_argument("--data-root", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    p.add_argument("--n", type=int, default=2000, help="single-image encodes timed")
    p.add_argument("--clients", type=int, default=64, help="concurrent connections (bounded: at most 64)")
    p.add_argument(
        "--load",
        choices=["python", "wrk"],
        default="python",
        help="load generator (wrk: needs the wrk binary)",
    )
    p.add_argument(
        "--before", default=None, metavar="SRC", help="also serve from this source tree (before/after)"
    )
    p.add_argument("--service-only", action="store_true", help="skip the device-side timings")
    p.add_argument("--seconds", type=float, default=10.0, help="load duration (bounded: at most 60)")
    p.add_argument(
        "--no-reference", action="store_true", help="skip the second load run of the service without batching"
    )
    p.add_argument("--out", default=str(HERE / "results" / "codec_speed.json"))
    return p.parse_args(argv)


def stats_ms(values) -> dict:
    v = np.asarray(values) * 1e3
    return {
        "median_ms": float(np.median(v)),
        "p99_ms": float(np.percentile(v, 99)),
        "mean_ms": float(v.mean()),
        "max_ms": float(v.max()),
        "n": int(len(v)),
    }


def time_calls(fn, items, warmup=50) -> list:
    for x in items[:warmup]:
        fn(x)
    out = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t)
    return out


def device_side(args, X) -> dict:
    enc = DeviceEncoder(args.model, threads=1)
    items = [X[i : i + 1] for i in range(args.n)]
    res = {
        "encode_one_image": stats_ms(time_calls(enc.compress, items)),
        "onnx_only": stats_ms(time_calls(enc.latents, items)),
        "coder_only": None,
    }
    symbols = [enc.symbols(x) for x in items]
    res["coder_only"] = stats_ms(time_calls(enc.tables.encode, symbols))
    res["throughput_one_image_per_s"] = 1e3 / res["encode_one_image"]["mean_ms"]
    t = time.perf_counter()
    reps = 5
    for _ in range(reps):
        enc.compress(X[:1000])
    res["throughput_batch_1000_per_s"] = reps * 1000 / (time.perf_counter() - t)

    # peers in the same run: WebP q0 on the same images, and the torch encoder path
    from PIL import Image

    imgs = [np.round(x.reshape(28, 28) * 255).astype(np.uint8) for x in X[: args.n]]

    def webp(im):
        Image.fromarray(im).save(io.BytesIO(), format="WEBP", quality=0)

    res["peer_webp_q0_encode"] = stats_ms(time_calls(webp, imgs))
    import torch

    torch.set_num_threads(1)
    from aekit.codec import Codec

    codec = Codec.load(args.model)
    res["peer_torch_codec_compress"] = stats_ms(time_calls(codec.compress, items[: min(args.n, 1000)]))
    res["speedup_vs_webp_q0"] = res["peer_webp_q0_encode"]["median_ms"] / res["encode_one_image"]["median_ms"]
    res["speedup_vs_torch_path"] = (
        res["peer_torch_codec_compress"]["median_ms"] / res["encode_one_image"]["median_ms"]
    )
    return res, [enc.compress(x) for x in items[:1000]]


# ---------------------------------------------------------------------- service
async def _client(port, bodies, offset, deadline, latencies, statuses):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            body = bodies[i % len(bodies)]
            i += 1
            t = time.perf_counter()
            writer.write(
                b"POST /v1/decode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                b"Accept: application/x-npy\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            )
            status = int((await reader.readline()).split()[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(port, bodies, clients, seconds):
    latencies, statuses = [], {}
    warm_end = time.perf_counter() + 1.0
    await asyncio.gather(*(_client(port, bodies, k * 37, warm_end, [], {}) for k in range(clients)))
    start = time.perf_counter()
    await asyncio.gather(
        *(_client(port, bodies, k * 37, start + seconds, latencies, statuses) for k in range(clients))
    )
    return latencies, statuses, time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_WRK_SCRIPT = """
local bodies, n = {}, 0
for i = 0, %(count)d - 1 do
  local f = io.open("%(dir)s/" .. i .. ".aek", "rb")
  bodies[i + 1] = f:read("*all")
  f:close()
end
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/decode", {["Content-Type"] = "application/octet-stream",
    ["Accept"] = "application/x-npy"}, bodies[(n %% %(count)d) + 1])
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("JSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"p50\\": %%f, \\"p99\\": %%f, "
    .. "\\"max\\": %%f, \\"mean\\": %%f, \\"non2xx\\": %%d, \\"socket_errors\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency.max, latency.mean, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def _wrk_load(port, bodies, clients, seconds):
    """wrk's figures for ``clients`` connections posting ``bodies`` in turn (one warm-up second first)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for i, body in enumerate(bodies[:100]):
            Path(tmp, f"{i}.aek").write_bytes(body)
        script = Path(tmp, "post.lua")
        script.write_text(_WRK_SCRIPT % {"count": min(len(bodies), 100), "dir": tmp})
        base = [
            "wrk",
            "-t2",
            f"-c{clients}",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ]
        subprocess.run(base[:1] + ["-d1s"] + base[1:], capture_output=True, check=True)
        out = subprocess.run(
            base[:1] + [f"-d{seconds:g}s"] + base[1:], capture_output=True, text=True, check=True
        )
    line = next(x for x in out.stdout.splitlines() if x.startswith("JSON "))
    w = json.loads(line[5:])
    latency = {f"{k}_ms": w[k] / 1e3 for k in ("p50", "p99", "max", "mean")}
    latency["median_ms"] = latency.pop("p50_ms")
    return w["requests"], w["seconds"], latency, {"non_2xx": w["non2xx"], "socket_errors": w["socket_errors"]}


def service_side(args, bodies, batching: bool = True, src: Path = SRC) -> dict:
    clients = max(1, min(args.clients, 64))
    seconds = max(1.0, min(args.seconds, 60.0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "aekit",
        "-q",
        "serve",
        "--model",
        args.model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ] + ([] if batching else ["--no-batching"])
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the service did not start: " + server.stderr.read().decode()[-2000:])
        cpu_before = cpu_seconds(server.pid)
        if args.load == "wrk":
            requests, elapsed, latency, statuses = _wrk_load(port, bodies, clients, seconds)
        else:
            latencies, statuses, elapsed = asyncio.run(_load(port, bodies, clients, seconds))
            requests, latency = len(latencies), stats_ms(latencies)
        cpu_used = cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(10)
    return {
        "src": str(src),
        "load": args.load,
        "batching": batching,
        "clients": clients,
        "seconds": elapsed,
        "requests": requests,
        "statuses": statuses,
        "requests_per_s": requests / elapsed,
        "latency": latency,
        # the server's own CPU time per request: steadier than req/s on cores shared with other jobs
        "server_cpu_us_per_request": 1e6 * cpu_used / max(1, requests),
        "request_bytes_mean": float(np.mean([len(b) for b in bodies])),
    }


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    load_average = os.getloadavg()
    X, _ = load_mnist(args.data_root, "test")
    if args.service_only:
        device, bodies = (
            None,
            [DeviceEncoder(args.model, threads=1).compress(X[i : i + 1]) for i in range(1000)],
        )
    else:
        device, bodies = device_side(args, X)
    before = [] if args.before is None else [service_side(args, bodies, src=Path(args.before))]
    service = service_side(args, bodies)
    runs = [service]
    if args.before is not None:  # twice each, alternated (the shared cores' load drifts); the best of each
        before.append(service_side(args, bodies, src=Path(args.before)))
        runs.append(service_side(args, bodies))
        service = max(runs, key=lambda r: r["requests_per_s"])
    reference = None if args.no_reference else service_side(args, bodies, batching=False)
    goals = {
        "service_at_least_2000_rps": service["requests_per_s"] >= GOAL["service_rps"],
        "service_p99_under_50_ms": service["latency"]["p99_ms"] < GOAL["service_p99_ms"],
        "service_max_under_1_s": service["latency"]["max_ms"] < GOAL["service_max_ms"],
    }
    if device is not None:
        goals["encode_median_under_1_ms"] = device["encode_one_image"]["median_ms"] < GOAL["encode_median_ms"]
    result = {
        "benchmark": "codec_speed",
        "model": args.model,
        "data": "MNIST test images, one per request/encode",
        "goal": GOAL,
        "goals": goals,
        "device": device,
        "service": service,
        "service_without_batching": reference,
        "service_runs": runs,
        "service_before": before or None,
        "before_after": None
        if not before
        else {
            "before_src": args.before,
            "requests_per_s": [max(r["requests_per_s"] for r in before), service["requests_per_s"]],
            "p99_ms": [min(r["latency"]["p99_ms"] for r in before), service["latency"]["p99_ms"]],
            "max_ms": [min(r["latency"]["max_ms"] for r in before), service["latency"]["max_ms"]],
            "server_cpu_us_per_request": [
                min(r["server_cpu_us_per_request"] for r in before),
                service["server_cpu_us_per_request"],
            ],
        },
        "batching_speedup": None
        if reference is None
        else service["requests_per_s"] / reference["requests_per_s"],
        "load_average_at_start": load_average,
        "seconds": time.perf_counter() - start,
        "command": "python " + " ".join([str(Path(sys.argv[0]))] + sys.argv[1:]),
        "machine": "2 CPU cores shared with other jobs; server and load generator on the same cores",
    }
    atomic_write_text(Path(args.out), json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
