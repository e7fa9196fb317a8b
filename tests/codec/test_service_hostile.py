"""The decode service under hostile load: slow senders, too many connections, forged streams that
amplify memory, junk behind a valid payload (issue 18, items 6-8). Live servers on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from aekit.codec import bitstream, create_app
from aekit.codec.service.server import server_options

SRC = Path(__file__).resolve().parents[2] / "src"
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def strict_server(codec_dir, free_port, serving):
    """A server with short timeouts (0.5 s headers, 0.5 s bodies) and at most 8 connections."""
    port = free_port()
    app = create_app([codec_dir], body_timeout=0.5)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", **server_options(0.5, max_connections=8)
    )
    with serving(config):
        yield port


def _post(port: int, data: bytes, timeout: float = 10) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/decode", data=data, headers=OCTET)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def _until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed it."""
    sock.settimeout(timeout)
    start, received = time.perf_counter(), b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return received, time.perf_counter() - start
        received += chunk


def test_slow_senders_are_cut_off_and_new_clients_are_served(strict_server, codec, test_items):
    port, data = strict_server, codec.compress(test_items[:1])
    silent = socket.create_connection(("127.0.0.1", port))  # connects, sends nothing
    half_headers = socket.create_connection(("127.0.0.1", port))
    half_headers.sendall(b"POST /v1/decode HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
    half_body = socket.create_connection(("127.0.0.1", port))
    half_body.sendall(
        b"POST /v1/decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % len(data) + data[:3]
    )
    assert _post(port, data) == 200  # served while the three stall
    for sock, what in ((silent, None), (half_headers, b"headers"), (half_body, b"body")):
        with sock:
            answer, seconds = _until_closed(sock, timeout=10)
        assert seconds < 5, "a stalled connection was held"  # 0.5 s timeouts; slack for loaded CI
        if what is None:
            assert answer == b""  # nothing began: closed without an answer
        else:
            assert answer.split(b" ")[1] == b"408" and what + b" did not arrive within 0.5 s" in answer
    assert _post(port, data) == 200


def test_a_keep_alive_connection_that_stalls_in_its_next_request_is_cut_off(strict_server, codec, test_items):
    port, data = strict_server, codec.compress(test_items[:1])
    request = (
        b"POST /v1/decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % len(data) + data
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        sock.settimeout(10)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(request[:30])  # the next request stalls in its headers
        answer, seconds = _until_closed(sock, timeout=10)
    assert seconds < 5 and b"HTTP/1.1 408" in answer and b"headers did not arrive" in answer


def test_a_header_without_end_is_refused_at_64_kib(strict_server, codec, test_items):
    """The HTTP parser keeps unfinished headers in memory: 431 beyond MAX_HEADER_BYTES, and closed."""
    port = strict_server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /v1/decode HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (80 << 10))  # no end
        answer, _ = _until_closed(sock, timeout=10)
    assert answer.startswith(b"HTTP/1.1 431") and b"exceed 65536 bytes" in answer
    assert _post(port, codec.compress(test_items[:1])) == 200


def test_connections_beyond_the_cap_are_refused_and_freed(strict_server, codec, test_items):
    port, data = strict_server, codec.compress(test_items[:1])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    try:
        time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)) as extra:
            answer, _ = _until_closed(extra, timeout=5)
        assert answer.startswith(b"HTTP/1.1 503") and b"more than 8 connections" in answer
        for sock in idle:  # the idle ones are closed at the header deadline ...
            assert _until_closed(sock, timeout=5)[0] == b""
        assert _post(port, data) == 200  # ... and new clients get in again
    finally:
        for sock in idle:
            sock.close()


def test_junk_behind_a_valid_payload_is_a_400(strict_server, codec, test_items):
    """Junk appended to the payload, with the payload length and the CRC recomputed (the fingerprint
    is public), used to decode; now the payload must end where its symbols end."""
    header, payload = bitstream.unpack(codec.compress(test_items[:3]), codec.fingerprint)
    forged = bitstream.pack(codec.fingerprint, 3, header.latent_shape, payload + os.urandom(100_000))
    request = urllib.request.Request(
        f"http://127.0.0.1:{strict_server}/v1/decode", data=forged, headers=OCTET
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400 and b"unexpected bytes after" in err.value.read()


# ---------------------------------------------------------------------- memory amplification
def _rss_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _forged(codec) -> bytes:
    """65 536 items in an all-zero payload of the minimum length: a small body, a large decode."""
    count = 1 << 16
    payload = bytes(codec.tables.min_payload(count))
    return bitstream.pack(codec.fingerprint, count, codec.latent_shape, payload)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from Linux /proc")
def test_concurrent_forged_streams_stay_within_the_memory_budget(codec_dir, codec, free_port):
    budget_mib = 128
    port = free_port()
    command = [sys.executable, "-m", "aekit", "-q", "serve", "--model", str(codec_dir), "--port", str(port)]
    command += ["--max-memory-mib", str(budget_mib), "--max-items", "65536"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(server.stderr.read().decode()[-2000:])
        data = _forged(codec)
        assert _post(port, data) == 200  # one alone is served (16 MiB of reconstructions)
        baseline = _rss_mib(server.pid, "VmRSS")
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: _post(port, data, timeout=60), range(16)))
        peak = _rss_mib(server.pid, "VmHWM")  # the process's high-water mark
        assert set(statuses) <= {200, 503} and 200 in statuses, statuses
        assert peak - baseline < budget_mib, (baseline, peak, statuses)
        time.sleep(0.5)
        after = _rss_mib(server.pid, "VmRSS")
        assert after - baseline < 32, (baseline, after)  # given back after the burst
        assert _post(port, codec.compress(np.zeros((1, 64), np.float32))) == 200
    finally:
        server.terminate()
        server.wait(10)
