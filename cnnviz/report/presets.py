"""The report's settings and published numbers, typed once, for ``cnnviz report`` and the docs."""

from __future__ import annotations

VARIANTS = {"nobn": False, "bn": True}


#: R4: the report's test loss and accuracy (%).
REPORT_TEST = {
    "nobn": {"loss": 0.0461, "accuracy": 98.45},
    "bn": {"loss": 0.0316, "accuracy": 98.97},
}


#: The report's neuron counts (section 2.2.2). Its conv2 figure equals conv1's output size
#: (32 x 28 x 28); conv2 really outputs 32 x 14 x 14 = 6272 values. Kept for comparison.
REPORT_NEURONS = {"conv1": 25088, "conv2": 25088, "fc1": 500, "fc2": 10}

#: R7: the report's parameter counts per layer.
REPORT_PARAMETERS = {"conv1": 320, "conv2": 9248, "fc1": 784500, "fc2": 5010}


#: R14: the report's transfer table. Row ``k``: the noise learned on digit ``k`` towards
#: ``k + 1`` (mod 10), added to ten test images whose true labels are the columns.
REPORT_TRANSFER_TARGETS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 0)


REPORT_TRANSFER_LABELS = (8, 5, 0, 9, 7, 1, 3, 1, 9, 3)


REPORT_TRANSFER_TABLE = (
    (1, 3, 1, 1, 2, 1, 3, 1, 1, 3),
    (2, 2, 0, 2, 2, 2, 2, 2, 8, 2),
    (8, 8, 0, 9, 7, 1, 3, 3, 9, 3),
    (8, 5, 0, 4, 7, 8, 9, 4, 9, 9),
    (8, 5, 0, 9, 9, 5, 3, 9, 9, 5),
    (8, 8, 0, 4, 7, 1, 3, 1, 9, 3),
    (8, 5, 0, 9, 7, 7, 3, 3, 9, 3),
    (8, 8, 0, 8, 8, 8, 3, 8, 8, 3),
    (8, 5, 0, 9, 7, 8, 3, 9, 9, 3),
    (8, 8, 0, 8, 7, 0, 3, 0, 9, 3),
)


#: The universal perturbation the report section measures: towards 8 (the class the
#: report's noises reached most often), within the usual MNIST L-infinity budget.
UNIVERSAL_SETTINGS = {"target": 8, "eps": 0.3, "norm": "linf", "steps": 100, "batch_size": 100}


#: The report's own class-visualisation procedure, plain steps on the logit, 0.1 times
#: the gradient in its [-1, 1] space (0.025 in pixel units).
#: ``class_visualisation(model, **REPORT_CLASS_VISUALISATION, steps=...)``.
REPORT_CLASS_VISUALISATION: dict[str, object] = {
    "objective": "logit",
    "normalise": False,
    "step_size": 0.025,
}


#: The same plain steps on the logit at ten times the report's step size, continued for
#: 1,000 steps after ``p >= 0.99`` (3,000 at most): the robust network's gradients are
#: small, and its class images take shape long after it is sure.
LONG_CLASS_VISUALISATION: dict[str, object] = {
    **REPORT_CLASS_VISUALISATION,
    "step_size": 0.25,
    "steps": 3000,
    "steps_past_threshold": 1000,
}


#: The report's noise-attack procedure (its code sketch in section 2.4.4), plain steps of
#: 0.1 times the logit's gradient in [-1, 1] (0.025 in pixel units), ``x + n`` never
#: clipped (neither while learning nor when the noise is added to other digits), and one
#: update after the last check of ``p``. ``noise_attack(model, ..., **REPORT_NOISE_ATTACK)``.
REPORT_NOISE_ATTACK: dict[str, object] = {
    "step_size": 0.025,
    "clip": False,
    "steps_past_threshold": 1,
}
