"""Folders of images: layouts, pixel scaling, modes, sizes, hostile files, and load_dataset's splits."""

import numpy as np
import pytest
from PIL import Image

from aekit.data import find_images, load_dataset, load_image_folder
from aekit.errors import DataError


def write_images(directory, arrays, *, suffix=".png"):
    """Save uint8/uint16 arrays as image files named 000.png, 001.png, ...; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, a in enumerate(arrays):
        paths.append(directory / f"{i:03d}{suffix}")
        Image.fromarray(a).save(paths[-1])
    return paths


def gray(n, h=6, w=5, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, size=(n, h, w), dtype=np.uint8))


def test_flat_folder_gray_pixels_exact(tmp_path):
    arrays = gray(4)
    write_images(tmp_path, arrays)
    (tmp_path / "notes.txt").write_text("not an image")  # other files are skipped
    (tmp_path / ".hidden.png").write_bytes(b"junk")
    X, y = load_image_folder(tmp_path)
    assert y is None and X.shape == (4, 1, 6, 5) and X.dtype == np.float32
    np.testing.assert_array_equal(X[:, 0] * 255, np.stack(arrays).astype(np.float32))
    Xf, _ = load_image_folder(tmp_path, flatten=True)
    np.testing.assert_array_equal(Xf, X.reshape(4, -1))


def test_class_folders_give_sorted_labels(tmp_path):
    write_images(tmp_path / "zebra", gray(2, seed=1))
    write_images(tmp_path / "ant" / "nested", gray(3, seed=2))  # class folders are searched recursively
    _paths, labels, classes = find_images(tmp_path)
    assert classes == ["ant", "zebra"]
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    X, y = load_image_folder(tmp_path)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(X[3, 0] * 255, gray(2, seed=1)[0])


def test_colour_and_modes(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    write_images(tmp_path, gray(1) + [rgb])
    X, _ = load_image_folder(tmp_path)  # one colour image makes the whole set RGB
    assert X.shape == (2, 3, 6, 5)
    np.testing.assert_array_equal(X[1].transpose(1, 2, 0) * 255, rgb.astype(np.float32))
    np.testing.assert_array_equal(X[0, 0], X[0, 2])  # grayscale repeated over the channels
    X_gray, _ = load_image_folder(tmp_path, mode="L")
    assert X_gray.shape == (2, 1, 6, 5)
    with pytest.raises(DataError, match="mode must be one of"):
        load_image_folder(tmp_path, mode="CMYK")


def test_alpha_dropped_and_16_bit_scaled(tmp_path):
    rgba = np.random.default_rng(4).integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    write_images(tmp_path / "a", [rgba])
    X, _ = load_image_folder(tmp_path / "a")
    np.testing.assert_array_equal(X[0].transpose(1, 2, 0) * 255, rgba[:, :, :3].astype(np.float32))
    deep = np.array([[0, 1000, 65535]], dtype=np.uint16)
    write_images(tmp_path / "b", [deep])
    X16, _ = load_image_folder(tmp_path / "b")
    assert X16.shape == (
        1,
        1,
        1,
        3,
    )  # 16-bit grayscale stays one channel, scaled by 65535 (not clipped to 8 bits)
    np.testing.assert_allclose(X16[0, 0, 0], deep[0] / 65535, rtol=1e-6)


def test_sizes_must_match_unless_resized(tmp_path):
    write_images(tmp_path, [np.zeros((6, 5), np.uint8), np.full((8, 8), 255, np.uint8)])
    with pytest.raises(DataError, match="001.png.* is 8x8 but .*000.png.* is 5x6.*size="):
        load_image_folder(tmp_path)
    X, _ = load_image_folder(tmp_path, size=(4, 3))
    assert X.shape == (2, 1, 4, 3)
    np.testing.assert_allclose(X[1], 1.0, atol=1e-6)  # a constant image stays constant
    np.testing.assert_allclose(X[0], 0.0, atol=1e-6)
    with pytest.raises(DataError, match="size must be"):
        load_image_folder(tmp_path, size=(4, 0))


def test_hostile_and_broken_files(tmp_path):
    write_images(tmp_path / "big", [np.zeros((64, 64), np.uint8)])
    with pytest.raises(DataError, match="64x64 = 4096 pixels, over the limit of 1000"):
        load_image_folder(tmp_path / "big", max_pixels=1000)
    bad = tmp_path / "bad"
    write_images(bad, gray(1))
    (bad / "001.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="001.png.* not an image"):
        load_image_folder(bad)
    cut = tmp_path / "cut"
    good = write_images(cut, gray(1, h=64, w=64))[0]
    good.write_bytes(good.read_bytes()[:200])  # truncated: the header reads, the pixels do not
    with pytest.raises(DataError, match="000.png"):
        load_image_folder(cut)
    deep = tmp_path / "deep"
    deep.mkdir()
    Image.fromarray(np.zeros((2, 2), np.int32)).save(deep / "i.tif")  # mode "I"
    Image.fromarray(np.zeros((2, 2), np.float32)).save(deep / "f.tif")  # mode "F"
    with pytest.raises(DataError, match="32-bit"):
        load_image_folder(deep)


def test_layout_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        find_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        find_images(tmp_path / "empty")
    mixed = tmp_path / "mixed"
    write_images(mixed, gray(1))
    write_images(mixed / "cls", gray(1))
    with pytest.raises(DataError, match="both images .* and sub-folders"):
        find_images(mixed)
    hollow = tmp_path / "hollow"
    write_images(hollow / "a", gray(1))
    (hollow / "b").mkdir()
    with pytest.raises(DataError, match="class folder .*b.* holds no images"):
        find_images(hollow)


def test_load_dataset_splits_one_folder_like_the_digits(tmp_path):
    write_images(tmp_path / "cats", gray(6, seed=5))
    write_images(tmp_path / "dogs", gray(4, seed=6))
    X_all, y_all = load_dataset(tmp_path, split="all", flatten=False)
    X_tr, y_tr = load_dataset(tmp_path, split="train")
    X_te, y_te = load_dataset(tmp_path, split="test")
    assert len(X_tr) == 8 and len(X_te) == 2 and X_tr.shape[1] == 30
    joined = np.concatenate([X_tr, X_te])
    order = np.lexsort(joined.T)  # train and test partition all the images
    np.testing.assert_array_equal(joined[order], X_all.reshape(10, -1)[np.lexsort(X_all.reshape(10, -1).T)])
    assert sorted(np.concatenate([y_tr, y_te])) == sorted(y_all)
    X_again, _ = load_dataset(tmp_path, split="train")
    np.testing.assert_array_equal(X_again, X_tr)  # the split is fixed


def test_load_dataset_train_test_folders(tmp_path):
    write_images(tmp_path / "train" / "a", gray(3, seed=7))
    write_images(tmp_path / "train" / "b", gray(2, seed=8))
    rgb = np.zeros((6, 5, 3), np.uint8)
    write_images(tmp_path / "test" / "a", [rgb])
    write_images(tmp_path / "test" / "b", gray(1, seed=9))
    X_tr, y_tr = load_dataset(tmp_path, split="train", flatten=False)
    X_te, y_te = load_dataset(tmp_path, split="test", flatten=False)
    assert X_tr.shape == (5, 3, 6, 5) and X_te.shape == (2, 3, 6, 5)  # one colour test image: both RGB
    np.testing.assert_array_equal(y_tr, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(y_te, [0, 1])
    X_all, y_all = load_dataset(tmp_path, split="all")
    assert X_all.shape == (7, 90) and list(y_all) == [0, 0, 0, 1, 1, 0, 1]
    write_images(tmp_path / "test" / "c", gray(1))
    with pytest.raises(DataError, match=r"train/ has classes \['a', 'b'\] but test/ has \['a', 'b', 'c'\]"):
        load_dataset(tmp_path, split="test")


def test_load_dataset_directory_without_data_says_what_it_wants(tmp_path):
    with pytest.raises(DataError, match="no images.*MNIST-named IDX files"):
        load_dataset(tmp_path)


def test_cli_trains_on_an_image_folder(tmp_path):
    from aekit.cli import main

    write_images(tmp_path / "imgs" / "a", gray(12, h=8, w=8, seed=10))
    write_images(tmp_path / "imgs" / "b", gray(8, h=8, w=8, seed=11))
    out = tmp_path / "run"
    assert (
        main(
            [
                "-q",
                "train",
                "--data",
                str(tmp_path / "imgs"),
                "--hidden",
                "4",
                "--epochs",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "model.safetensors").is_file()
    assert main(["-q", "evaluate", str(out), "--data", str(tmp_path / "imgs")]) == 0


def _png_header_only(path, width, height):
    """A PNG that declares width x height 8-bit grey pixels and holds none (a small file, a huge image)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 3)  # far fewer bytes than the rows declared
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_read_image_one_file_in_each_mode(tmp_path):
    from aekit.data import read_image

    grey = gray(1)[0]
    rgb = np.random.default_rng(5).integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    g, c = write_images(tmp_path, [grey, rgb])
    np.testing.assert_array_equal(read_image(g) * 255, grey[None].astype(np.float32))  # (1, H, W)
    assert read_image(c).shape == (3, 6, 5) and read_image(c).dtype == np.float32
    np.testing.assert_array_equal(read_image(c) * 255, rgb.transpose(2, 0, 1).astype(np.float32))
    assert read_image(c, mode="L").shape == (1, 6, 5)
    np.testing.assert_array_equal(read_image(g, mode="RGB"), np.repeat(read_image(g), 3, axis=0))
    assert read_image(g, size=(3, 4)).shape == (1, 3, 4)
    with pytest.raises(DataError, match="mode must be None, 'L' or 'RGB'"):
        read_image(g, mode="auto")


def test_read_image_checks_the_declared_size_before_decoding(tmp_path):
    from aekit.data import MAX_PIXELS, read_image

    bomb = _png_header_only(tmp_path / "bomb.png", 5000, 5000)  # 25 M pixels in 33 bytes
    assert MAX_PIXELS < 5000 * 5000
    with pytest.raises(DataError, match=r"bomb.png.* is 5000x5000 = 25000000 pixels, over the limit of"):
        read_image(bomb)
    huge = _png_header_only(tmp_path / "huge.png", 100_000, 100_000)  # beyond Pillow's own bound
    with pytest.raises(DataError, match=r"huge.png.* declares more pixels than the limit of 1000"):
        read_image(huge, max_pixels=1000)
    with pytest.raises(DataError, match=r"small.png.* could not be decoded"):  # header fine, no pixel data
        read_image(_png_header_only(tmp_path / "small.png", 4, 4))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(DataError, match=r"notes.png.* is not a readable image"):
        read_image(text)
