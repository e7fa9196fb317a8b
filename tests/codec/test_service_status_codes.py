"""One test per status code the decode service can answer, each also declared in its OpenAPI schema.

The models are handed in through the ``get_service`` dependency, overridden here: no files, no lifespan.
"""

import asyncio
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient

import aekit
from aekit.codec import Codec, bitstream, create_app
from aekit.codec.service import Registry, Service, get_service

OCTET = {"Content-Type": "application/octet-stream"}
# (method, path, status) of every answer the tests below get; each test checks its own is declared
ANSWERED = {("get", "/healthz", "200"), ("get", "/v1/models", "200")} | {
    ("post", "/v1/decode", status)
    for status in ("200", "400", "404", "406", "408", "413", "415", "500", "503")
}


@pytest.fixture(scope="module")
def not_images():
    """A codec whose items (5 values) cannot be drawn as an image."""
    aekit.seed_everything(0)
    return Codec(aekit.Autoencoder(5, [3], code_activation="linear", loss="mse")).update().eval()


@pytest.fixture(scope="module")
def service(codec, not_images):
    return Service.start(
        Registry([codec, not_images]), max_body=4096, max_output=20 * 64 * 4, max_memory=1 << 20, wait=0.0
    )


@pytest.fixture(scope="module")
def client(service):
    app = create_app([], max_body=4096, max_output=20 * 64 * 4)
    app.dependency_overrides[get_service] = lambda: service
    with TestClient(app) as c:
        yield c


def answered(client, response, method, path, media=None):
    """Check that ``response``'s status (and media type) is declared for the route and listed in ANSWERED."""
    status = str(response.status_code)
    declared = client.app.openapi()["paths"][path][method]["responses"]
    assert status in declared, (
        f"{method.upper()} {path} answered {status}, not declared in {sorted(declared)}"
    )
    media = media or response.headers["content-type"].split(";")[0]
    assert media in declared[status].get("content", {}), (status, media, declared[status])
    assert (method, path, status) in ANSWERED


def test_healthz_200(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "models": 2}
    answered(client, r, "get", "/healthz")


def test_models_200(client, codec):
    r = client.get("/v1/models")
    assert r.status_code == 200 and codec.model_id.hex() in {m["model_id"] for m in r.json()}
    answered(client, r, "get", "/v1/models")


def test_decode_200_npy_and_png(client, codec, test_items):
    data = codec.compress(test_items[:3])
    r = client.post("/v1/decode", content=data, headers=OCTET)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-npy"
    assert np.array_equal(np.load(io.BytesIO(r.content)), codec.decompress(data))
    answered(client, r, "post", "/v1/decode")
    r = client.post("/v1/decode", content=data, headers={**OCTET, "Accept": "image/png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    answered(client, r, "post", "/v1/decode")


def test_decode_400_corrupt_stream(client, codec, test_items):
    data = bytearray(codec.compress(test_items[:1]))
    data[-1] ^= 0x01
    r = client.post("/v1/decode", content=bytes(data), headers=OCTET)
    assert r.status_code == 400 and "CRC" in r.json()["detail"]
    answered(client, r, "post", "/v1/decode")


def test_decode_404_unknown_model(client, codec, test_items):
    header, payload = bitstream.unpack(codec.compress(test_items[:1]), codec.fingerprint)
    other = bytes([codec.fingerprint[0] ^ 0xFF, codec.fingerprint[1] ^ 0xFF]) + codec.fingerprint[2:]
    r = client.post(
        "/v1/decode", content=bitstream.pack(other, 1, header.latent_shape, payload), headers=OCTET
    )
    assert r.status_code == 404 and other[:2].hex() in r.json()["detail"]
    answered(client, r, "post", "/v1/decode")


def test_decode_406_png_of_items_that_are_not_images(client, not_images):
    data = not_images.compress(np.zeros((2, 5), np.float32))
    r = client.post("/v1/decode", content=data, headers={**OCTET, "Accept": "image/png"})
    assert r.status_code == 406 and "application/x-npy" in r.json()["detail"]
    answered(client, r, "post", "/v1/decode")
    assert client.post("/v1/decode", content=data, headers=OCTET).status_code == 200  # .npy: fine


def test_decode_413_too_large(client, codec, test_items):
    r = client.post("/v1/decode", content=b"\xae\x02" + bytes(5000), headers=OCTET)
    assert r.status_code == 413 and "limit of 4096 bytes" in r.json()["detail"]
    answered(client, r, "post", "/v1/decode")
    r = client.post("/v1/decode", content=codec.compress(test_items[:21]), headers=OCTET)
    assert r.status_code == 413 and "21 items" in r.json()["detail"]


def test_decode_408_the_body_takes_too_long(client, service, codec, test_items):
    """A body that stops arriving is refused after body_timeout (here 0.1 s) and the connection closed;
    driven through ASGI with a receive() that stalls (TestClient sends whole bodies). A stalled socket
    against a live server: test_service_hostile.py."""
    data = codec.compress(test_items[:1])
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/decode",
        "raw_path": b"/v1/decode",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", b"%d" % len(data))],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = []

    async def receive():
        if not sent and not getattr(receive, "started", False):
            receive.started = True
            return {"type": "http.request", "body": data[:3], "more_body": True}
        await asyncio.sleep(30)  # the rest never comes

    async def send(message):
        sent.append(message)

    service.body_timeout = 0.1
    try:
        asyncio.run(asyncio.wait_for(client.app(scope, receive, send), 10))
    finally:
        service.body_timeout = 30.0
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    assert start["status"] == 408 and b"within 0.1 s" in body
    assert (b"connection", b"close") in start["headers"]
    assert service.admission.used == 0  # its reservation is given back
    r = client.post("/v1/decode", content=data, headers=OCTET)  # the same route, the declaration checked
    assert r.status_code == 200
    declared = client.app.openapi()["paths"]["/v1/decode"]["post"]["responses"]
    assert "408" in declared and "application/json" in declared["408"]["content"]


def test_decode_413_more_than_the_memory_budget(client, service, codec, test_items):
    """A request whose decoding alone needs more than the whole budget could never be served: 413."""
    budget = service.admission.budget
    service.admission.budget = int(3 * service.work[codec.model_id]) - 1  # 2 items fit, 3 do not
    try:
        assert (
            client.post("/v1/decode", content=codec.compress(test_items[:2]), headers=OCTET).status_code
            == 200
        )
        r = client.post("/v1/decode", content=codec.compress(test_items[:3]), headers=OCTET)
    finally:
        service.admission.budget = budget
    assert r.status_code == 413 and "memory budget" in r.json()["detail"], r.text
    answered(client, r, "post", "/v1/decode")
    assert service.admission.used == 0


def test_decode_503_while_the_memory_budget_is_taken(client, service, codec, test_items):
    """Other requests hold the budget (simulated): no room within the wait -> 503 with Retry-After."""
    data = codec.compress(test_items[:1])
    service.admission.used = service.admission.budget - 10  # as if decoding other requests
    try:
        r = client.post("/v1/decode", content=data, headers=OCTET)
    finally:
        service.admission.used = 0
    assert r.status_code == 503 and "memory budget" in r.json()["detail"]
    assert r.headers["retry-after"] == "1"
    answered(client, r, "post", "/v1/decode")
    assert client.post("/v1/decode", content=data, headers=OCTET).status_code == 200  # room again
    assert service.admission.used == 0


def test_answers_of_the_framework_and_server_are_documented(client):
    """405 (wrong method) and 404 (unknown path) come from the framework, not a route: the schema's
    description names them, and they are JSON like every other error."""
    r = client.get("/v1/decode")
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}
    assert client.get("/nowhere").status_code == 404
    description = client.app.openapi()["info"]["description"]
    for words in ("405", "404", "408", "431", "503", "--max-connections", "--header-timeout"):
        assert words in description


def test_decode_415_wrong_content_type(client, codec, test_items):
    r = client.post(
        "/v1/decode", content=codec.compress(test_items[:1]), headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 415 and "octet-stream" in r.json()["detail"]
    answered(client, r, "post", "/v1/decode")


def test_decode_500_the_decoder_fails_and_the_service_keeps_serving(client, codec, test_items, monkeypatch):
    data = codec.compress(test_items[:1])
    with monkeypatch.context() as m:
        m.setattr(codec, "dequantize", lambda symbols: 1 / 0)
        r = client.post("/v1/decode", content=data, headers=OCTET)
    assert r.status_code == 500 and "ZeroDivisionError" in r.json()["detail"]
    answered(client, r, "post", "/v1/decode")
    assert client.post("/v1/decode", content=data, headers=OCTET).status_code == 200


def test_every_declared_status_code_has_its_test(client):
    """The codes declared in the schema are exactly those the tests above answer (ANSWERED)."""
    declared = {
        (method, path, status)
        for path, item in client.app.openapi()["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    }
    assert declared == ANSWERED, f"untested: {declared - ANSWERED}; undeclared: {ANSWERED - declared}"
