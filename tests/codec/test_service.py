import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from aekit.codec import create_app
from aekit.errors import CheckpointError

OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def client(codec_dir):
    with TestClient(create_app([codec_dir], max_body=4096)) as c:
        yield c


def test_healthz_and_models(client, codec):
    assert client.get("/healthz").json() == {"status": "ok", "models": 1}
    (model,) = client.get("/v1/models").json()
    assert model["fingerprint"] == codec.fingerprint.hex() and model["model_id"] == codec.model_id.hex()
    assert model["input_shape"] == [64] and model["image_shape"] == [8, 8]


def test_200_npy(client, codec, test_items):
    r = client.post("/v1/decode", content=codec.compress(test_items[:4]), headers=OCTET)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-npy"
    X = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert np.array_equal(X, codec.decompress(codec.compress(test_items[:4])))


@pytest.mark.parametrize("n, size", [(1, (8, 8)), (5, (24, 16))])
def test_200_png_one_image_or_grid(client, codec, test_items, n, size):
    r = client.post(
        "/v1/decode", content=codec.compress(test_items[:n]), headers={**OCTET, "Accept": "image/png"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == size


def test_400_corrupt_stream_then_keeps_serving(client, codec, test_items):
    data = bytearray(codec.compress(test_items[:2]))
    data[-6] ^= 0x10
    r = client.post("/v1/decode", content=bytes(data), headers=OCTET)
    assert r.status_code == 400 and "CRC" in r.json()["detail"]
    assert client.post("/v1/decode", content=b"garbage", headers=OCTET).status_code == 400
    assert client.post("/v1/decode", content=codec.compress(test_items[:1]), headers=OCTET).status_code == 200


def test_404_unknown_model(client, codec, test_items):
    from aekit.codec import bitstream

    header, payload = bitstream.unpack(codec.compress(test_items[:1]), codec.fingerprint)
    other_model = bytes([codec.fingerprint[0] ^ 0xFF]) + codec.fingerprint[1:]
    other = bitstream.pack(other_model, header.count, header.latent_shape, payload)
    r = client.post("/v1/decode", content=other, headers=OCTET)
    assert r.status_code == 404 and other_model[:2].hex() in r.json()["detail"]


def test_413_body_too_large(client):
    r = client.post("/v1/decode", content=b"\xae\x02" + b"\0" * 5000, headers=OCTET)
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_415_wrong_content_type(client, codec, test_items):
    r = client.post(
        "/v1/decode", content=codec.compress(test_items[:1]), headers={"Content-Type": "image/png"}
    )
    assert r.status_code == 415 and "octet-stream" in r.json()["detail"]


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/decode", "/v1/models", "/healthz"} <= set(spec["paths"])
    decode = spec["paths"]["/v1/decode"]["post"]
    assert "application/octet-stream" in decode["requestBody"]["content"]
    assert {"400", "404", "413", "415"} <= set(decode["responses"])
    assert "path" not in json.dumps(spec["components"]["schemas"]["ModelInfo"])


def test_400_an_empty_payload_claiming_many_items(client, codec):
    from aekit.codec import bitstream

    info = client.get("/v1/models").json()[0]  # the fingerprint is public
    fingerprint, shape = bytes.fromhex(info["fingerprint"]), tuple(info["latent_shape"])
    stream = bitstream.pack(fingerprint, 16384, shape, b"")
    r = client.post("/v1/decode", content=stream, headers=OCTET)
    assert r.status_code == 400 and "items take at least" in r.json()["detail"]
    r = client.post("/v1/decode", content=bitstream.pack(fingerprint, 65536, shape, b""), headers=OCTET)
    assert r.status_code == 413 and "the limit is 16384 per request" in r.json()["detail"]  # the item cap


def test_413_an_answer_over_max_output_is_refused_before_decoding(codec_dir, codec, test_items):
    with TestClient(create_app([codec_dir], max_output=10 * 64 * 4)) as c:  # 10 items of 64 float32
        assert c.post("/v1/decode", content=codec.compress(test_items[:10]), headers=OCTET).status_code == 200
        r = c.post("/v1/decode", content=codec.compress(test_items[:11]), headers=OCTET)
        assert r.status_code == 413 and "11 items" in r.json()["detail"] and "(10 items" in r.json()["detail"]


def test_models_do_not_expose_server_paths(client, codec_dir):
    (model,) = client.get("/v1/models").json()
    assert "path" not in model and str(codec_dir) not in json.dumps(model)


@pytest.mark.parametrize(
    "accept, media",
    [
        ("image/png", "image/png"),
        ("image/png;q=0", "application/x-npy"),
        ("image/png;q=0, application/x-npy", "application/x-npy"),
        ("application/x-npy, image/png;q=0.5", "application/x-npy"),
        ("image/png, */*;q=0.1", "image/png"),
        ("*/*", "application/x-npy"),
        ("image/png;q=nan", "application/x-npy"),
    ],
)
def test_accept_qualities_choose_the_answer(client, codec, test_items, accept, media):
    r = client.post("/v1/decode", content=codec.compress(test_items[:2]), headers={**OCTET, "Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"] == media


def _refuses_to_start(model, match):
    with pytest.raises(CheckpointError, match=match), TestClient(create_app([model])):
        pass


def test_the_service_refuses_a_codec_without_tables(tmp_path):
    import aekit
    from aekit.codec import Codec

    fresh = Codec(aekit.Autoencoder(16, [4], code_activation="linear", loss="mse"))
    _refuses_to_start(
        fresh.save(tmp_path / "fresh"), "no entropy tables"
    )  # used to answer 400 to every stream
    _refuses_to_start(fresh, "no entropy tables")


def test_the_service_refuses_a_codec_that_cannot_decode(codec, monkeypatch):
    import copy

    broken = copy.deepcopy(codec)
    monkeypatch.setattr(broken, "dequantize", lambda symbols: 1 / 0)  # a server fault: not 500 per request
    _refuses_to_start(broken, "fails to decode a stream of its own")


@pytest.mark.parametrize("shape", [(1, 64), (3, 28, 28), (70000, 5)])
def test_npy_answers_are_the_bytes_np_save_writes(shape):
    from aekit.codec.service.answers import render

    X = np.random.default_rng(0).random(shape, dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, X, allow_pickle=False)
    assert render(X, None) == buffer.getvalue()
    flipped = X[:, ::-1]  # any layout, written in C order
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(flipped), allow_pickle=False)
    assert render(flipped, None) == buffer.getvalue()
