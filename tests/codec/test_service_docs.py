"""The service's /docs page works offline, and ``aekit serve`` says where it listens and logs requests
(issue 17, item 6)."""

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from aekit.cli import main
from aekit.codec import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_docs_is_a_self_contained_page_of_every_route(codec_dir):
    with TestClient(create_app([codec_dir])) as client:
        page = client.get("/docs")
        assert client.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not offered
        schema = client.get("/openapi.json").json()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    for path, methods in schema["paths"].items():
        for op in methods.values():
            assert path in text and op["summary"] in text
            for code in op["responses"]:
                assert f"<td>{code}</td>" in text
    assert "application/octet-stream" in text and "ModelInfo" in text
    # nothing to fetch from elsewhere: no script, no stylesheet or image from another host
    assert "<script" not in text and 'src="http' not in text and 'href="http' not in text


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_docs_renders_offline_in_headless_chromium(live_server, tmp_path):
    offline = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"  # any CDN would be unreachable
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        offline,
        f"--user-data-dir={tmp_path / 'p'}",
    ]
    dom = subprocess.run(
        [*common, "--dump-dom", f"{live_server}/docs"], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Decode a bitstream" in dom.stdout and "/v1/models" in dom.stdout  # rendered, not an empty shell
    shot = tmp_path / "docs.png"
    proc = subprocess.run(
        [
            *common,
            "--hide-scrollbars",
            "--window-size=1000,1400",
            f"--screenshot={shot}",
            f"{live_server}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("L"), dtype=np.float64)
    assert pixels.mean() > 180 and pixels.std() > 20  # a white page with text on it, not blank


def _serve(codec_dir, port: int, *extra: str) -> tuple[str, str]:
    """Run `aekit serve` on ``port`` in a process, GET /healthz once it answers, stop it with Ctrl+C:
    (stdout, stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "aekit", "serve", "--model", str(codec_dir), "--port", str(port), *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the server did not answer in 120 s"
                time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert f"http://127.0.0.1:{port}" in out and f"http://127.0.0.1:{port}/docs" in out
    return out, err


@pytest.mark.parametrize(
    ("quiet", "argv", "level"),
    [([], [], "info"), (["-q"], [], "warning"), ([], ["--log-level", "debug"], "debug")],
)
def test_serve_says_where_it_listens_with_an_access_log(
    codec_dir, monkeypatch, capsys, free_port, quiet, argv, level
):
    import uvicorn

    seen = {}

    def run(server, sockets=None):
        seen.update(config=server.config, address=sockets[0].getsockname())

    monkeypatch.setattr(uvicorn.Server, "run", run)
    port = free_port()
    assert main([*quiet, "serve", "--model", str(codec_dir), "--port", str(port), *argv]) == 0
    assert seen["address"] == ("127.0.0.1", port)
    assert seen["config"].access_log and seen["config"].log_level == level
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{port}/docs" in out


@pytest.mark.slow
def test_serve_prints_its_address_and_logs_requests(codec_dir, free_port):
    out, _ = _serve(codec_dir, free_port())
    assert '"GET /healthz HTTP/1.1" 200' in out  # the access log
    out, _ = _serve(codec_dir, free_port(), "--log-level", "warning")
    assert "GET /healthz" not in out


@pytest.mark.slow
def test_serve_with_two_workers(codec_dir, free_port):
    out, err = _serve(codec_dir, free_port(), "--workers", "2")
    assert "2 worker(s)" in out and '"GET /healthz HTTP/1.1" 200' in out
    assert err.count("Started server process") == 2, err


@pytest.mark.parametrize("argv", [["--workers", "0"], ["--log-level", "loud"]])
def test_serve_option_values_are_checked(codec_dir, argv, capsys):
    assert main(["serve", "--model", str(codec_dir), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aekit: error:") and argv[1] in err, err
