"""Every Python example of docs/api.md and the README runs as written and prints something."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "docs" / "api.md", ROOT / "README.md"]


def _examples():
    for page in PAGES:
        blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(), re.M | re.S)
        for n, code in enumerate(blocks, start=1):
            yield pytest.param(code, id=f"{page.name}-{n}")


@pytest.mark.parametrize("code", list(_examples()))
def test_example_runs(code, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "<example>", "exec"), {})
    assert capsys.readouterr().out.strip() or "print(" not in code
