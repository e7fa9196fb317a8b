"""The package namespace: public names and subpackages import on first use."""

import subprocess
import sys

import aekit


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_subpackages_are_attributes_without_their_own_import():
    done = _fresh(
        "import aekit; print(aekit.nn.Autoencoder.__name__, aekit.data.load_digits.__name__, "
        "aekit.train.fit is aekit.fit)"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["Autoencoder", "load_digits", "True"]


def test_star_import_leaves_the_heavy_optional_modules_alone():
    done = _fresh(
        "import sys; from aekit import *; print('matplotlib' in sys.modules, 'fastapi' in sys.modules)"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "False"]


def test_unknown_names_are_attribute_errors():
    try:
        aekit.not_a_module
    except AttributeError as err:
        assert "not_a_module" in str(err)
    else:
        raise AssertionError("aekit.not_a_module did not raise")
    assert {"nn", "data", "codec", "fit"} <= set(dir(aekit))


def test_messages_name_a_class_with_its_article():
    from aekit.errors import a_or_an

    assert [a_or_an(n) for n in ("Autoencoder", "Codec", "ConvDenoiser", "")] == [
        "an Autoencoder",
        "a Codec",
        "a ConvDenoiser",
        "a ",
    ]
