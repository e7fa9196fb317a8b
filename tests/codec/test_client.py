"""aekit.codec.send: the library client of the decode service (the CLI's `aekit send` calls it)."""

import io

import numpy as np
import pytest
from PIL import Image

from aekit.codec import DeviceEncoder, SendError, send


def test_send_bytes_or_a_file_and_get_the_reconstructions(
    live_server, codec, codec_dir, test_items, tmp_path
):
    data = DeviceEncoder(codec_dir).compress(test_items[:3])
    answer = send(data, live_server)
    assert np.array_equal(np.load(io.BytesIO(answer), allow_pickle=False), codec.decompress(data))
    (tmp_path / "s.aek").write_bytes(data)
    assert send(tmp_path / "s.aek", live_server + "/") == answer
    png = send(str(tmp_path / "s.aek"), live_server, accept="image/png")
    assert Image.open(io.BytesIO(png)).size == (16, 16)  # a grid of 2 x 2 cells of 8 x 8


def test_an_error_answer_is_a_send_error_with_its_status(live_server):
    with pytest.raises(SendError, match="answered 400: .*magic") as caught:
        send(b"not a stream", live_server)
    assert caught.value.status == 400 and isinstance(caught.value, ValueError)


def test_an_unreachable_server_is_a_send_error_without_status():
    with pytest.raises(SendError, match=r"cannot reach .*\(is 'aekit serve' running there\?\)") as caught:
        send(b"\xae\x02", "http://127.0.0.1:9", timeout=5)
    assert caught.value.status is None


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((b"x", "file:///etc/passwd"), {}, ValueError, "http:// or https://"),
        ((b"x", "http://127.0.0.1:9"), {"timeout": 0}, ValueError, "timeout"),
        ((12, "http://127.0.0.1:9"), {}, TypeError, "bitstream .bytes. or a file path"),
        (("no/such/file.aek", "http://127.0.0.1:9"), {}, FileNotFoundError, "no such bitstream file"),
    ],
)
def test_bad_arguments_are_refused_before_sending(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        send(*args, **kwargs)
