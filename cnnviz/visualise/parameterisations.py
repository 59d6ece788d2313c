"""What an ascent optimises and how it becomes an image: pixels, an offset on a base, a spectrum.

A parameterisation turns the optimised variables of the rows still climbing into the
``(M, C, H, W)`` images the model sees (its ``image`` method). :class:`Pixels` optimises the
image itself; :class:`Offset` an additive noise on fixed base images (the noise attack);
:class:`Fourier` a ``1 / frequency`` scaled spectrum, so that low frequencies move first
(Olah et al.'s decorrelated parameterisation, lucent's ``fft_image``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnnviz.core.classifier import Bounds
from cnnviz.visualise.transforms import gaussian_blur


@dataclass(frozen=True)
class Pixels:
    """The variables are the images, clipped to ``bounds`` when ``clip``.

    Examples
    --------
    >>> Pixels(bounds=(0.0, 1.0)).image(torch.tensor([[-1.0, 0.5, 2.0]]), None).tolist()
    [[0.0, 0.5, 1.0]]
    """

    bounds: Bounds
    clip: bool = True

    def image(self, variables: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """The images of the variables (``rows`` is unused: every row is its own image)."""
        return variables.clamp(*self.bounds) if self.clip else variables

    def blurred(self, variables: torch.Tensor, sigma: float) -> torch.Tensor:
        """The variables blurred as images (:func:`~cnnviz.visualise.transforms.gaussian_blur`)."""
        return gaussian_blur(variables, sigma)


@dataclass(frozen=True)
class Offset:
    """The variables are noises added to fixed ``base`` images, the sum clipped when ``clip``.

    Attributes
    ----------
    base
        ``(N, C, H, W)`` one base image per row.

    Examples
    --------
    >>> offset = Offset(base=torch.full((2, 1, 1, 1), 0.75), bounds=(0.0, 1.0))
    >>> offset.image(torch.full((1, 1, 1, 1), 0.5), torch.tensor([1])).flatten().tolist()
    [1.0]
    """

    base: torch.Tensor
    bounds: Bounds
    clip: bool = True

    def image(self, variables: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``base[rows] + variables``, clipped to the bounds when ``clip``."""
        image = self.base[rows] + variables
        return image.clamp(*self.bounds) if self.clip else image


def _frequency_scale(height: int, width: int, device: torch.device) -> torch.Tensor:
    """``(H, W // 2 + 1)`` factors ``1 / max(frequency, 1 / max(H, W))`` of an rfft2 spectrum."""
    rows = torch.fft.fftfreq(height, device=device)[:, None]
    cols = torch.fft.rfftfreq(width, device=device)[None, :]
    frequency = torch.sqrt(rows**2 + cols**2)
    return 1.0 / frequency.clamp_min(1.0 / max(height, width))


@dataclass(frozen=True)
class Fourier:
    """The variables are ``rfft2`` spectra divided by ``1 / frequency``, around mid-grey.

    The image is ``irfft2(variables * scale) + middle``, clipped to the bounds.

    Attributes
    ----------
    height, width
        Image size in pixels.
    bounds
        The model's input range; ``middle`` is its mid-grey.

    Examples
    --------
    >>> fourier = Fourier.of(4, 4, bounds=(-1.0, 1.0), device=torch.device("cpu"))
    >>> spectrum = fourier.spectrum(torch.full((1, 1, 4, 4), 0.25))
    >>> spectrum.shape, bool(torch.allclose(fourier.image(spectrum, None), torch.tensor(0.25)))
    (torch.Size([1, 1, 4, 3]), True)
    """

    height: int
    width: int
    bounds: Bounds
    scale: torch.Tensor

    @classmethod
    def of(cls, height: int, width: int, *, bounds: Bounds, device: torch.device) -> Fourier:
        """The parameterisation of ``height x width`` images on ``device``."""
        return cls(height, width, bounds, _frequency_scale(height, width, device))

    @property
    def middle(self) -> float:
        """Mid-grey of the bounds, the image of a zero spectrum."""
        return (self.bounds[0] + self.bounds[1]) / 2

    def spectrum(self, images: torch.Tensor) -> torch.Tensor:
        """The variables of ``(N, C, H, W)`` images (the inverse of ``image`` inside the bounds)."""
        return torch.fft.rfft2(images - self.middle) / self.scale

    def image(self, variables: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """The clipped images of the spectra (``rows`` is unused)."""
        pixels = torch.fft.irfft2(variables * self.scale, s=(self.height, self.width))
        return (pixels + self.middle).clamp(*self.bounds)

    def blurred(self, variables: torch.Tensor, sigma: float) -> torch.Tensor:
        """The spectra of the images blurred (around mid-grey)."""
        images = self.image(variables, None)
        return torch.fft.rfft2(gaussian_blur(images - self.middle, sigma)) / self.scale
