"""The Hugging Face Space's entry (and ``python demo/app.py`` in a checkout): the app of
:mod:`cnnviz.app`, with ``cnnviz`` imported from beside this folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnviz.app import main

main()
