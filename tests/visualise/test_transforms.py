"""The transforms and regularisers of an ascent: background kept, blur keeps the mean."""

from __future__ import annotations

import dataclasses

import torch

from cnnviz.models.checkpoint import pretrained
from cnnviz.visualise.features import visualise
from cnnviz.visualise.transforms import (
    PLAIN,
    READABLE,
    Regularisers,
    gaussian_blur,
    random_affine,
)


def test_transformations_keep_the_background_and_blur_keeps_the_mean():
    generator = torch.Generator().manual_seed(0)
    black = -torch.ones(3, 1, 28, 28)
    moved = random_affine(black, READABLE, generator, low=-1.0)
    assert torch.allclose(moved, black)  # uncovered pixels are black too
    assert random_affine(black, PLAIN, generator, low=-1.0) is black  # no toggle, no change
    images = torch.rand(2, 1, 28, 28)
    blurred = gaussian_blur(images, 0.8)
    assert blurred.shape == images.shape
    assert torch.allclose(blurred.mean(), images.mean(), atol=0.02)
    assert blurred.std() < images.std()
    fourier = dataclasses.replace(PLAIN, fourier=True)
    grown = visualise(pretrained(), [1], regularisers=fourier, steps=5)
    assert grown.images.shape == (1, 1, 28, 28)
    assert Regularisers().blur == 0.0
