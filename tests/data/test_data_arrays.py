import numpy as np
import pytest

from aekit.data import load_array, load_dataset, load_digits, save_idx
from aekit.errors import DataError


def test_npy(tmp_path):
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "a.npy", array)
    X, y = load_array(tmp_path / "a.npy")
    np.testing.assert_array_equal(X, array)
    assert y is None


def test_pickled_npy_refused(tmp_path, monkeypatch):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    calls = []
    monkeypatch.setattr("pickle.load", lambda *a, **k: calls.append(a))
    with pytest.raises(DataError, match="allow_pickle=False"):
        load_array(tmp_path / "obj.npy")
    assert calls == []


def test_pickled_npz_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", X=np.array([object()], dtype=object))
    with pytest.raises(DataError, match="unpickling"):
        load_array(tmp_path / "obj.npz")


@pytest.mark.parametrize("x_key", ["X", "x", "data", "features"])
def test_npz_keys(tmp_path, x_key):
    array, labels = np.ones((4, 2)), np.arange(4)
    np.savez(tmp_path / "a.npz", **{x_key: array, "y": labels})
    X, y = load_array(tmp_path / "a.npz")
    np.testing.assert_array_equal(X, array)
    np.testing.assert_array_equal(y, labels)


def test_npz_explicit_and_ambiguous(tmp_path):
    np.savez(tmp_path / "a.npz", a=np.zeros(2), b=np.ones(3))
    with pytest.raises(DataError, match=r"holds \['a', 'b'\].*pass key="):
        load_array(tmp_path / "a.npz")
    X, y = load_array(tmp_path / "a.npz", key="b")
    assert X.tolist() == [1, 1, 1] and y is None
    with pytest.raises(DataError, match="no array 'c'"):
        load_array(tmp_path / "a.npz", key="c")


@pytest.mark.parametrize("header", ["", "f1,f2,f3\n"])
def test_csv(tmp_path, header):
    (tmp_path / "a.csv").write_text(header + "1,2,3\n4.5,5,-6e1\n")
    X, y = load_array(tmp_path / "a.csv")
    np.testing.assert_array_equal(X, [[1, 2, 3], [4.5, 5, -60]])
    assert y is None


def test_csv_single_row_is_2d(tmp_path):
    (tmp_path / "a.csv").write_text("1,2,3\n")
    assert load_array(tmp_path / "a.csv")[0].shape == (1, 3)


def test_csv_bad_content(tmp_path):
    (tmp_path / "a.csv").write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(DataError, match="numeric CSV"):
        load_array(tmp_path / "a.csv")


def _huge_npy_bytes() -> bytes:
    """A valid .npy header declaring 10^12 float64 values, followed by 64 bytes."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    return buffer.getvalue() + bytes(64)


def test_declared_sizes_checked_before_allocating(tmp_path):
    (tmp_path / "huge.npy").write_bytes(_huge_npy_bytes())
    with pytest.raises(DataError, match=r"declares shape \(1000000000000,\) .* but holds 64 bytes"):
        load_array(tmp_path / "huge.npy")
    import zipfile

    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as zf:
        zf.writestr("X.npy", _huge_npy_bytes())
    with pytest.raises(DataError, match="array 'X' .* declares shape"):
        load_array(tmp_path / "huge.npz")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(DataError, match="not a readable .npy"):
        load_array(tmp_path / "junk.npy")


def test_broken_npz(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.arange(1000.0), y=np.arange(1000))
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.npz"):
        load_array(tmp_path / "cut.npz")
    np.savez(tmp_path / "b.npz", X=np.zeros(1000))
    flipped = bytearray((tmp_path / "b.npz").read_bytes())
    flipped[500] ^= 0xFF  # inside X's data: the zip CRC catches it
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="flip.npz.*CRC"):
        load_array(tmp_path / "flip.npz")


def test_csv_byte_order_mark_and_empty(tmp_path):
    (tmp_path / "bom.csv").write_text("\ufeff0.1,0.2\n0.3,0.4\n0.5,0.6\n", encoding="utf-8")
    np.testing.assert_allclose(load_array(tmp_path / "bom.csv")[0], [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    (tmp_path / "head.csv").write_text("a,b,c\n")
    with pytest.raises(DataError, match="no data rows .only a header line"):
        load_array(tmp_path / "head.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"holds no data rows$"):
        load_array(tmp_path / "empty.csv")


def test_suffixes_case_insensitive(tmp_path):
    save_idx(tmp_path / "UP.IDX.GZ", np.zeros((2, 3), np.uint8))
    assert load_array(tmp_path / "UP.IDX.GZ")[0].shape == (2, 3)


def test_idx_file(tmp_path):
    save_idx(tmp_path / "imgs-idx3-ubyte", np.zeros((2, 3, 3), np.uint8))
    assert load_array(tmp_path / "imgs-idx3-ubyte")[0].shape == (2, 3, 3)


@pytest.mark.parametrize("name", ["a.txt", "a.pkl", "noext"])
def test_bad_extension(tmp_path, name):
    (tmp_path / name).write_bytes(b"1")
    with pytest.raises(DataError, match="unsupported file type"):
        load_array(tmp_path / name)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_array(tmp_path / "a.npy")


@pytest.mark.parametrize("flatten, shape", [(True, (1797, 64)), (False, (1797, 1, 8, 8))])
def test_digits(flatten, shape):
    X, y = load_digits(flatten=flatten)
    assert X.shape == shape and X.dtype == np.float32 and X.flags.c_contiguous
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.shape == (1797,) and y.dtype == np.int64 and set(y.tolist()) == set(range(10))


def test_dataset_digits_splits():
    X_train, y_train = load_dataset("digits")
    X_test, y_test = load_dataset("digits", split="test", flatten=False)
    X_all, _ = load_dataset("digits", split="all")
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 1, 8, 8)
    assert len(y_train) == 1437 and len(y_test) == 360 and len(X_all) == 1797
    # disjoint, together all the digits, and the same every time
    rows = {r.tobytes() for r in X_train} | {r.tobytes() for r in X_test.reshape(360, 64)}
    assert len(rows) == len({r.tobytes() for r in X_all})
    np.testing.assert_array_equal(load_dataset("digits")[0], X_train)


def test_dataset_named_idx(monkeypatch, tmp_path, fake_mnist):
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path))
    fake_mnist(tmp_path / "fashion-mnist", n_train=6, n_test=4)
    fake_mnist(tmp_path / "mnist", n_train=8, n_test=4, gz=False)
    assert load_dataset("fashion-mnist")[0].shape == (6, 784)
    assert load_dataset("mnist", split="all", flatten=False)[0].shape == (12, 1, 28, 28)
    fake_mnist(tmp_path / "elsewhere", n_train=2)
    assert load_dataset("kmnist", root=tmp_path / "elsewhere")[1].shape == (2,)
    with pytest.raises(DataError, match="kmnist directory .* not found"):
        load_dataset("kmnist")


def test_dataset_directory_and_files(tmp_path, fake_mnist):
    fake_mnist(tmp_path / "dir", n_test=3)
    X, y = load_dataset(tmp_path / "dir", split="test")
    assert X.shape == (3, 784) and y.shape == (3,)

    np.savez(tmp_path / "a.npz", X=np.zeros((5, 4, 4)), y=np.arange(5))
    X, y = load_dataset(str(tmp_path / "a.npz"), split="test")  # split ignored for files
    assert X.shape == (5, 16) and y.shape == (5,)
    assert load_dataset(tmp_path / "a.npz", flatten=False)[0].shape == (5, 1, 4, 4)


@pytest.mark.parametrize("spec", ["cifar", "no/such/file.npy"])
def test_dataset_unknown(spec):
    with pytest.raises(DataError, match="unknown dataset .* expected 'digits', 'mnist'"):
        load_dataset(spec)


def test_dataset_bad_split():
    with pytest.raises(DataError, match="split must be one of"):
        load_dataset("digits", split="val")
