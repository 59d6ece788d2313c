"""What a training run does: :class:`Recipe`, the named recipes and how one is looked up."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Recipe:
    """How to train: a frozen record of every setting of a run, grouped by the step it sets.

    The first five fields are positional, ``Recipe(name, epochs, batch_size, lr, momentum)``;
    the rest are keywords with defaults that switch their step off (no shift, no noise, no
    attack, no averaging). By step of :func:`cnnviz.training.loop.train`:

    =================  =================================================================
    the run            ``name``, ``epochs``, ``batch_size``, ``finish``
    optimiser step     ``optimizer``, ``lr``, ``momentum``, ``nesterov``,
                       ``weight_decay``, ``schedule``
    speed              ``precision`` (of the optimiser step), ``channels_last`` (the
                       memory layout of the model and its batches)
    making a batch     ``max_shift``, ``noise_std``, ``noise_mean``
    adversarial batch  ``adversarial_eps``, ``adversarial_steps``, ``eps_warmup_epochs``,
                       ``clean_weight``, ``clean_salt``
    weight average     ``weight_average``
    validation         ``val_every``, ``val_size``, ``robust_val_size``, ``robust_val_steps``
    =================  =================================================================

    (The fields are declared in the order they were added: a recipe's ``repr`` names a
    cached training run, see :func:`cnnviz.training.cache.cached_train`.)

    Parameters
    ----------
    name
        The run: label stored in histories and checkpoints.
    epochs
        The run: passes over the training split.
    batch_size
        The run: samples per optimiser step.
    finish
        The run: another recipe that goes on training the result (a short fine-tune at a
        low rate, say), with the same seed, unless training was stopped; its history
        continues this one's.
    optimizer
        Optimiser step: ``"sgd"`` (with ``momentum``, ``nesterov``) or ``"adam"``.
    lr
        Optimiser step: learning rate (the peak rate for ``schedule="onecycle"``).
    momentum, nesterov, weight_decay
        Optimiser step: SGD settings (Adam uses ``weight_decay`` only).
    schedule
        Optimiser step: ``"constant"`` or ``"onecycle"`` (warm-up then cosine annealing,
        per step).
    precision
        Speed: ``"fp32"``; ``"bf16"``: bfloat16 autocast for the forward pass
        (weights and optimiser stay fp32); ``"auto"``: bf16 where the CPU has native
        bfloat16 arithmetic (AVX512-BF16/AMX), else fp32.
    channels_last
        Speed: keep convolution tensors in channels-last memory layout (faster
        on CPUs).
    max_shift
        Making a batch: random translation of each training image by up to this many
        pixels in x and y (0: no augmentation).
    noise_std, noise_mean
        Making a batch: Gaussian noise N(``noise_mean``, ``noise_std``) in pixel units
        added to every training image before the attack, then clipped to the input range
        (``noise_std`` 0: none). Noise-trained networks have gradients that look like the
        data (Kaur et al. 2019); a negative mean makes strokes fainter while the clipped
        background stays dark, so that mid-grey counts as faint ink, not as background.
    adversarial_eps
        Adversarial batch (Madry et al. 2018): every batch is replaced by a PGD attack on
        it within this L-inf budget, pixel units of [0, 1] images (0: plain training).
    adversarial_steps
        Adversarial batch: attack steps per batch, each from a uniform random start (1:
        FGSM with random start, Wong et al. 2020); step size ``2.5 * eps / steps`` (1.25
        eps for one step).
    eps_warmup_epochs
        Adversarial batch: the budget grows linearly from 0 to ``adversarial_eps`` over
        these epochs.
    clean_weight
        Adversarial batch: the weight, in [0, 1), of the cross-entropy on the batch as it
        was (shifted, without noise or attack) in the loss; the attacked batch's weight is
        ``1 - clean_weight`` (Goodfellow et al. 2015 used 0.5). A price in robustness for
        clean accuracy.
    clean_salt
        Adversarial batch, with ``clean_weight``: the share, in [0, 1), of the clean
        copy's pixels set to the brightest value, at random, before it enters the loss;
        the network learns to read digits through scattered white dots.
    weight_average
        Weight average: decay of an exponential moving average of the weights, in [0, 1)
        (0: none; 0.999: about the last 1,000 steps; see
        :class:`~cnnviz.training.averaging.WeightAverage`). Validation, the robust check
        and the returned model use the average.
    val_every
        Validation: every this many steps (and at the end of every epoch).
    val_size
        Validation: on the first this many validation images (0: all of them); a live
        view that validates often uses a part.
    robust_val_size, robust_val_steps
        Validation of adversarial training: after every epoch, PGD with this many steps
        at ``adversarial_eps`` on the first ``robust_val_size`` validation images; the
        epoch with the best accuracy under it is kept (the last of those that tie), and
        training stops early when that accuracy collapses below half its best
        (catastrophic overfitting).

    Examples
    --------
    >>> recipe = Recipe("short", epochs=2, batch_size=256, lr=0.05, momentum=0.9)
    >>> recipe.schedule, recipe.max_shift, RECIPES["report"].batch_size
    ('constant', 0, 64)
    """

    name: str  # the run
    epochs: int  # the run
    batch_size: int  # the run
    lr: float  # optimiser step
    momentum: float  # optimiser step
    nesterov: bool = False  # optimiser step
    weight_decay: float = 0.0  # optimiser step
    schedule: str = "constant"  # optimiser step
    max_shift: int = 0  # making a batch
    val_every: int = 100  # validation
    val_size: int = 0  # validation
    precision: str = "fp32"  # speed
    channels_last: bool = False  # speed
    optimizer: str = "sgd"  # optimiser step
    adversarial_eps: float = 0.0  # adversarial batch
    adversarial_steps: int = 1  # adversarial batch
    eps_warmup_epochs: float = 0.0  # adversarial batch
    noise_std: float = 0.0  # making a batch
    noise_mean: float = 0.0  # making a batch
    clean_weight: float = 0.0  # adversarial batch
    clean_salt: float = 0.0  # adversarial batch
    weight_average: float = 0.0  # weight average
    robust_val_size: int = 1000  # validation
    robust_val_steps: int = 20  # validation
    finish: Recipe | None = None  # the run

    def __post_init__(self) -> None:
        for name in ("clean_weight", "clean_salt", "weight_average"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), not {getattr(self, name)}")


def _with_finish(recipe: Recipe, **changes: object) -> Recipe:
    """``recipe`` finished by a copy of itself named ``<name>-finish`` with ``changes``."""
    return replace(recipe, finish=replace(recipe, name=f"{recipe.name}-finish", **changes))


#: ``report``: as the assignment (SGD lr 0.01, momentum 0.5, batch 64, 10 epochs).
#: ``fast``: our best on a 2-core CPU: larger batches, one-cycle schedule, Nesterov
#: momentum, weight decay, +-2 px random shifts, bf16 autocast where the CPU has it and
#: channels-last layout.
#: ``robust``: adversarial training against PGD-7 at eps 0.3 (pixel units) with a
#: one-epoch warm-up of the budget, Adam with a one-cycle schedule, batches of 100, 14
#: epochs (after Madry et al. 2018 and Wong et al. 2020), keeping the epoch most robust
#: on validation; every image first gets N(-0.3, 0.25) noise, which turns the dotted
#: outlines grown from noise into strokes on a dark background, and 25 % of the loss is
#: the clean batch's, for clean accuracy; the weights returned are their moving average.
#: It finishes with 3 epochs of the same at a fifth of the rate, 12 % of the clean
#: copy's pixels set to white: its class images read more often as their digit.
RECIPES: dict[str, Recipe] = {
    "report": Recipe("report", epochs=10, batch_size=64, lr=0.01, momentum=0.5),
    "fast": Recipe(
        "fast",
        epochs=8,
        batch_size=128,
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        schedule="onecycle",
        max_shift=2,
        precision="auto",
        channels_last=True,
    ),
    "robust": _with_finish(
        Recipe(
            "robust",
            epochs=14,
            batch_size=100,
            lr=0.005,
            momentum=0.0,
            schedule="onecycle",
            val_every=600,
            channels_last=True,
            optimizer="adam",
            adversarial_eps=0.3,
            adversarial_steps=7,
            eps_warmup_epochs=1,
            noise_std=0.25,
            noise_mean=-0.3,
            clean_weight=0.25,
            weight_average=0.999,
        ),
        epochs=3,
        lr=0.001,
        eps_warmup_epochs=0,
        clean_salt=0.12,
    ),
}


def get_recipe(recipe: str | Recipe, epochs: int | None = None) -> Recipe:
    """A recipe by name (see :data:`RECIPES`), optionally with another number of epochs.

    Examples
    --------
    >>> get_recipe("report").lr, get_recipe("fast", epochs=2).epochs
    (0.01, 2)
    """
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
        recipe = RECIPES[recipe]
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be positive, not {epochs}")
        recipe = replace(recipe, epochs=epochs)
    return recipe
