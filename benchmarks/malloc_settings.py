"""Why :func:`cnnviz.core.runtime.retain_freed_memory` sets two glibc knobs, not one.

Runs 200 steps of the ``robust`` recipe (batch norm, PGD-7 per batch) on 20,000 MNIST
digits in a fresh interpreter per setting, and prints steps per second, minor page
faults and system time:

* ``default``: glibc's own malloc tuning;
* ``top pad only``: ``M_TOP_PAD`` = 256 MiB alone, which also freezes the mmap threshold
  at 128 KiB (what ``retain_freed_memory`` did before it set ``M_MMAP_THRESHOLD``);
* ``retain_freed_memory``: ``M_TOP_PAD`` and ``M_MMAP_THRESHOLD`` = 32 MiB.

Run::

    python benchmarks/malloc_settings.py
"""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = """
import ctypes, dataclasses, resource, time
from cnnviz.data.mnist import Splits, load_splits
from cnnviz.models.cnn import CNN
from cnnviz.core.runtime import M_TOP_PAD, retain_freed_memory
from cnnviz.training.recipe import RECIPES
from cnnviz.training.loop import train
setting = {setting!r}
if setting == "top pad only":
    libc = ctypes.CDLL(None)
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt(M_TOP_PAD, 256 << 20)
elif setting == "retain_freed_memory":
    retain_freed_memory()
d = load_splits()
part = Splits(d.train_x[:20000], d.train_y[:20000], d.val_x[:500], d.val_y[:500],
              d.test_x[:500], d.test_y[:500])
recipe = dataclasses.replace(RECIPES["robust"], epochs=1, robust_val_size=100, finish=None)
before = resource.getrusage(resource.RUSAGE_SELF)
_, history = train(CNN(batchnorm=True), part, recipe, progress=False, device="cpu")
after = resource.getrusage(resource.RUSAGE_SELF)
print(f"{{setting:>20}}: {{history.samples_per_second / recipe.batch_size:5.1f}} steps/s, "
      f"{{after.ru_minflt - before.ru_minflt:>10,}} page faults, "
      f"system time {{after.ru_stime - before.ru_stime:5.1f}} s")
"""


def main() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    for setting in ("default", "top pad only", "retain_freed_memory"):
        code = CHILD.format(setting=setting)
        subprocess.run([sys.executable, "-c", code], check=True, env=env)


if __name__ == "__main__":
    main()
