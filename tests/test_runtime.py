"""Keeping freed memory: applied on glibc, and it stops repeated page faults."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cnnviz.runtime import retain_freed_memory

FAULTS_PER_MAP = """
import resource, sys, torch
from cnnviz.checkpoint import pretrained
from cnnviz.occlusion_maps import occlusion
from cnnviz.runtime import retain_freed_memory
applied = retain_freed_memory() if sys.argv[1] == "retain" else False
model = pretrained(batchnorm=False)
image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
for _ in range(3):
    occlusion(model, image, 3)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    occlusion(model, image, 3)
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def faults_per_map(mode: str) -> tuple[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", FAULTS_PER_MAP, mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return output[0], float(output[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_retained_memory_removes_the_page_faults_of_repeated_maps():
    applied, retained = faults_per_map("retain")
    _, default = faults_per_map("default")
    assert applied == "True"
    assert retained < 100  # about 10 here; glibc's default gives about 1,500
    assert retained < default / 5


def test_rejects_absurd_sizes():
    with pytest.raises(ValueError, match="megabytes"):
        retain_freed_memory(-1)
    with pytest.raises(ValueError, match="megabytes"):
        retain_freed_memory(1 << 20)
