"""The README's promises that can drift from the code."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_spaces_requirements_are_the_dependencies_but_gradio():
    """A Space built from the README's requirements.txt must import everything qa imports."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"--extra-index-url [^\n]*\n(.*?)```", readme, re.S)
    assert block, "the README's requirements.txt block"
    listed = [line.strip() for line in block.group(1).splitlines() if line.strip()]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [
        "torch==2.13.0" if d.startswith("torch") else d
        for d in project["dependencies"]
        if not d.startswith("gradio")  # the Space provides gradio and its client
    ]
    assert listed == wanted
