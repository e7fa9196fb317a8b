import hashlib
import urllib.error
from pathlib import Path

import pytest

from aekit.data import default_data_dir, download, fetch_mnist, load_mnist
from aekit.data.download import MNIST_FILES, MNIST_MIRRORS, md5sum, verify_md5
from aekit.errors import DataError


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def leftovers(directory: Path):
    return sorted(p.name for p in directory.iterdir())


def test_constants():
    assert MNIST_FILES["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert len(MNIST_FILES) == 4
    assert all(url.startswith("https://") and url.endswith("/") for url in MNIST_MIRRORS)


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("AEKIT_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "aekit"


def test_md5sum_and_verify(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    assert md5sum(path) == md5(b"hello")
    verify_md5(path, md5(b"hello").upper())
    with pytest.raises(DataError, match=f"expected {'0' * 32}, got {md5(b'hello')}"):
        verify_md5(path, "0" * 32)


def test_download_file_url(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 3_000_000)  # several chunks
    dest = tmp_path / "out" / "sub" / "copy.bin"
    assert download(source.as_uri(), dest, md5(source.read_bytes())) == dest
    assert dest.read_bytes() == source.read_bytes()
    assert leftovers(dest.parent) == ["copy.bin"]


def test_download_gets_the_usual_file_mode(tmp_path):
    import os
    import stat

    source = tmp_path / "source.bin"
    source.write_bytes(b"abc")
    old = os.umask(0o022)
    try:
        dest = download(source.as_uri(), tmp_path / "shared" / "copy.bin")
    finally:
        os.umask(old)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644  # readable by others, like any file open() makes


def test_download_without_md5_overwrites(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"new")
    dest = tmp_path / "out" / "copy.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    download(source.as_uri(), dest)
    assert dest.read_bytes() == b"new"


def test_md5_mismatch_leaves_nothing(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    out = tmp_path / "out"
    with pytest.raises(DataError, match=f"expected {'0' * 32}, got {md5(b'payload')}"):
        download(source.as_uri(), out / "copy.bin", "0" * 32)
    assert leftovers(out) == []


def test_md5_mismatch_keeps_existing_file(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    dest = tmp_path / "copy.bin"
    dest.write_bytes(b"previous")
    with pytest.raises(DataError):
        download(source.as_uri(), dest, "0" * 32)
    assert dest.read_bytes() == b"previous"


def test_missing_url_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(urllib.error.URLError):
        download((tmp_path / "absent.bin").as_uri(), out / "copy.bin")
    assert leftovers(out) == []


@pytest.fixture
def mirror(tmp_path, fake_mnist):
    """A file:// mirror holding small fake MNIST files; returns (base_url, files)."""
    directory = tmp_path / "mirror"
    fake_mnist(directory)
    files = {p.name: md5sum(p) for p in directory.iterdir()}
    assert sorted(files) == sorted(MNIST_FILES)
    return directory.as_uri() + "/", files


def test_fetch_mnist_then_load(tmp_path, mirror):
    base, files = mirror
    root = tmp_path / "root"
    assert fetch_mnist(root, mirrors=[base], files=files) == root
    assert sorted(leftovers(root)) == sorted(files)
    X, y = load_mnist(root, "test")
    assert X.shape == (10, 784) and y.shape == (10,)


def test_fetch_mnist_falls_back_to_next_mirror(tmp_path, mirror):
    base, files = mirror
    dead = (tmp_path / "no-such-mirror").as_uri()
    root = fetch_mnist(tmp_path / "root", mirrors=[dead, base], files=files)
    assert sorted(leftovers(root)) == sorted(files)


def test_fetch_mnist_keeps_good_files_and_replaces_bad(tmp_path, mirror):
    base, files = mirror
    root = fetch_mnist(tmp_path / "root", mirrors=[base], files=files)
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(b"corrupt")
    good = root / "train-images-idx3-ubyte.gz"
    mtime = good.stat().st_mtime_ns
    fetch_mnist(root, mirrors=[base], files=files)
    assert md5sum(root / "t10k-labels-idx1-ubyte.gz") == files["t10k-labels-idx1-ubyte.gz"]
    assert good.stat().st_mtime_ns == mtime


def test_fetch_mnist_all_mirrors_fail(tmp_path, mirror):
    base, files = mirror
    bad_md5 = dict(files, **{"train-images-idx3-ubyte.gz": "0" * 32})
    dead = (tmp_path / "dead").as_uri()
    with pytest.raises(DataError, match="could not download train-images") as info:
        fetch_mnist(tmp_path / "root", mirrors=[dead, base], files=bad_md5)
    message = str(info.value)
    assert "dead/train-images-idx3-ubyte.gz" in message and "md5 mismatch" in message
    assert not (tmp_path / "root" / "train-images-idx3-ubyte.gz").exists()


def test_load_mnist_download(monkeypatch, no_data_env, mirror):
    base, files = mirror
    import aekit.data.mnist as mnist_module

    def fake_fetch(root):
        return fetch_mnist(root, mirrors=[base], files=files)

    monkeypatch.setattr(mnist_module, "fetch_mnist", fake_fetch)
    X, _y = load_mnist(download=True)
    assert X.shape == (20, 784)
    assert (no_data_env / "aekit-data" / "mnist" / "train-images-idx3-ubyte.gz").is_file()
