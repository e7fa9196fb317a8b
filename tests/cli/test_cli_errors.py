"""Every error in the CLI's words: one line, exit code 2, no traceback, naming the flag the user typed."""

import pytest

from aekit.cli import main
from aekit.cli.messages import in_cli_words

TRAIN = ["-q", "train", "--data", "digits", "--epochs", "1"]


def _one_line_error(capsys, argv: list[str]) -> str:
    """The text after ``aekit: error: `` of a command that must fail with exit code 2."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("aekit: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err + captured.out
    assert "aekit: error: aekit" not in err  # one prefix
    return err[len("aekit: error: ") : -1]


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--batch-size", "0"],
            "--batch-size: expected a positive integer (>= 1), got '0' (see 'aekit train --help')",
        ),
        (
            ["--optimizer", "sgd", "--momentum", "-1"],
            "--momentum: expected a number >= 0, got '-1' (see 'aekit train --help')",
        ),
        (
            ["--weight-decay", "-0.1"],
            "--weight-decay: expected a number >= 0, got '-0.1' (see 'aekit train --help')",
        ),
        (["--lr", "nan"], "--lr: expected a positive number (> 0), got 'nan' (see 'aekit train --help')"),
        (
            ["--patience", "0"],
            "--patience: expected a positive integer (>= 1), got '0' (see 'aekit train --help')",
        ),
        (
            ["--val-fraction", "1"],
            "--val-fraction: expected a fraction in [0, 1), got '1' (see 'aekit train --help')",
        ),
        (
            ["--patience", "3", "--val-fraction", "0"],
            "--patience 3 stops early on the validation split: --val-fraction must be > 0 with --patience "
            "(e.g. 0.1), or leave out --patience",
        ),
        (
            ["--hidden", "256,,64"],
            "--hidden: '256,,64' has an empty size; expected sizes like 256,64 (see 'aekit train --help')",
        ),
        (
            ["--hidden", "256,64,"],
            "--hidden: '256,64,' has an empty size; expected sizes like 256,64 (see 'aekit train --help')",
        ),
        (
            ["--corruption", "masking"],
            "--corruption: 'masking' needs its ν, e.g. masking:0.25 (see 'aekit train --help')",
        ),
        (
            ["--corruption", "none"],
            "--corruption: unknown corruption 'none' in 'none'; expected one of gaussian, masking, saltpepper "
            "(e.g. 'masking:0.25') (see 'aekit train --help')",
        ),
        (
            ["--corruption", "gaussian"],
            "--corruption: 'gaussian' needs its σ, e.g. gaussian:0.5 (see 'aekit train --help')",
        ),
        (
            ["--corruption", "masking:0.1,masking:0.2"],
            "--corruption masking:0.1,masking:0.2: --model ae takes one spec (one per layer is --model sda's)",
        ),
        (
            ["--model", "sda", "--corruption", "masking:0.1,,masking:0.3"],
            "--corruption: 'masking:0.1,,masking:0.3' has an empty spec; expected specs like "
            "masking:0.1,masking:0.2 (see 'aekit train --help')",
        ),
        (
            ["--model", "sda", "--pretrain-epochs", "-1"],
            "--pretrain-epochs: expected an integer >= 0, got '-1' (see 'aekit train --help')",
        ),
    ],
)
def test_train_errors_name_the_flag(tmp_path, capsys, options, message):
    out = tmp_path / "run"
    assert _one_line_error(capsys, [*TRAIN, *options, "--out", str(out)]) == message
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["map", "--data", "digits", "--k", "0"],
            "--k: expected a positive integer (>= 1), got '0' (see 'aekit map --help')",
        ),
        (
            ["map", "--data", "digits", "--trust-samples", "0"],
            "--trust-samples: expected a positive integer (>= 1), got '0' (see 'aekit map --help')",
        ),
        (
            ["map", "--data", "digits", "--corruption", "masking"],
            "--corruption: 'masking' needs its ν, e.g. masking:0.25 (see 'aekit map --help')",
        ),
        (
            ["map", "--data", "digits", "--patience", "2", "--val-fraction", "0"],
            "--patience 2 stops early on the validation split: --val-fraction must be > 0 with --patience "
            "(e.g. 0.1), or leave out --patience",
        ),
        (
            ["plot", "recon", "some-run", "--corruption", "saltpepper:"],
            "--corruption: 'saltpepper:' needs its ν, e.g. saltpepper:0.1 (see 'aekit plot --help')",
        ),
    ],
)
def test_other_commands_name_the_flag(tmp_path, capsys, argv, message):
    assert _one_line_error(capsys, ["-q", *argv, "--out", str(tmp_path / "m.png")]) == message


def test_an_error_only_the_library_detects_names_the_flag(tmp_path, capsys):
    argv = ["map", "--data", "digits", "--hidden", "4,2", "--epochs", "1", "--k", "5000"]
    message = _one_line_error(capsys, ["-q", *argv, "--out", str(tmp_path / "m.png")])
    assert message == "--k must be an int in [1, 1437] (the training size), got 5000"


def test_missing_mnist_names_download_and_data_root(tmp_path, capsys):
    argv = [*TRAIN, "--data", "mnist", "--data-root", str(tmp_path / "none"), "--out", str(tmp_path / "run")]
    assert _one_line_error(capsys, argv) == (
        "MNIST train files (train-images-idx3-ubyte, train-labels-idx1-ubyte, with or without .gz) not found; "
        f"looked in: {tmp_path / 'none'}; pass --download to fetch them, or --data-root DIR for the "
        "directory that holds them."
    )


def test_only_rank_zero_prints_an_error(tmp_path, capsys, monkeypatch):
    argv = [*TRAIN, "--batch-size", "0", "--out", str(tmp_path / "run")]
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 2
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    assert _one_line_error(capsys, argv).startswith("--batch-size: ")


def test_train_and_map_offer_no_split(capsys):
    for command in ("train", "map"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--split" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "which split (default: test)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "library, cli",
    [
        ("batch_size must be an int >= 1, got 0", "--batch-size must be an int >= 1, got 0"),
        ("Invalid momentum value: -1.0", "--momentum must be >= 0, got -1.0"),
        (
            "patience (early stopping) needs validation data: pass X_val",
            "--patience (early stopping) needs validation data: give --val-fraction > 0",
        ),
        (
            "Pass download=True, or root=DIR for the files",
            "Pass --download, or --data-root DIR for the files",
        ),
        ("n_codes must be even", "n_codes must be even"),  # a name with no flag stays
        ("the lr is fine", "the lr is fine"),  # only a name that leads the sentence
    ],
)
def test_library_names_become_flags(library, cli):
    assert in_cli_words(library) == cli


@pytest.mark.parametrize(
    "argv, offers_resume",
    [
        (["train", "--hidden", "4", "--epochs", "1", "--val-fraction", "0", "--out"], True),
        (["codec", "train", "--hidden", "8,2", "--epochs", "1", "--val-fraction", "0", "--out"], False),
    ],
)
def test_a_used_folder_offers_resume_only_where_the_command_has_it(tmp_path, capsys, argv, offers_resume):
    run = str(tmp_path / "run")
    assert main(["-q", *argv, run, "--data", "digits"]) == 0
    capsys.readouterr()
    message = _one_line_error(capsys, ["-q", *argv, run, "--data", "digits"])
    resume = ", --resume to continue it," if offers_resume else ""
    assert (
        message
        == f"{run} already holds a checkpoint: pass --overwrite to replace it{resume} or choose another directory"
    )
