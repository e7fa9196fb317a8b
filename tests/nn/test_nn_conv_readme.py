"""The Python examples of README's "Convolutional autoencoders" section run (with 1 epoch)."""

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_conv_examples_run(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    section = text.split("## Convolutional autoencoders", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        namespace: dict = {}
        for code in blocks:
            code = re.sub(r"epochs=\d+", "epochs=1", code)
            exec(compile(code, str(README), "exec"), namespace)
    finally:
        torch.set_num_threads(before)
    assert namespace["denoised"].shape == (1437, 1, 8, 8)
    assert namespace["labels"].shape == (1437,)
    assert (tmp_path / "runs" / "cae" / "config.json").is_file()
