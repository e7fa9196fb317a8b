"""The README's codec example is a test."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_codec_example_runs(tmp_path, monkeypatch, one_thread):
    section = README.read_text(encoding="utf-8").split("## Phone-to-cloud codec", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "runs" / "codec" / "encoder.onnx").is_file()
