"""Hugging Face Spaces entry point: the web chat over seeds/, as the module-level `demo`."""

import os
from pathlib import Path

from qa.app import build_demo, launch_options, open_assistant

HERE = Path(__file__).resolve().parent
# Relative to the working directory, so document ids read `seeds/...` as with `qa index seeds/`.
SEEDS = os.path.relpath(HERE / "seeds")
INDEX_DIR = Path(os.environ.get("QA_INDEX_DIR", HERE / "index"))

demo = build_demo(open_assistant([SEEDS], INDEX_DIR))

if __name__ == "__main__":
    # Spaces sets GRADIO_SERVER_NAME=0.0.0.0 and the port; locally this binds 127.0.0.1:7860.
    demo.launch(**launch_options())
