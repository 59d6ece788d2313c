"""The report's presets: typed, read-only, and still keyword arguments for ``**``."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from cnnviz.attacks.transfer import noise_attack
from cnnviz.report.presets import (
    LONG_CLASS_VISUALISATION,
    REPORT_CLASS_VISUALISATION,
    REPORT_NOISE_ATTACK,
    REPORT_TEST,
    UNIVERSAL_SETTINGS,
    VARIANTS,
)
from cnnviz.visualise.class_images import class_visualisation


def test_procedures_splat_as_the_keywords_they_hold():
    assert dict(REPORT_CLASS_VISUALISATION) == {
        "objective": "logit",
        "normalise": False,
        "step_size": 0.025,
    }
    assert dict(LONG_CLASS_VISUALISATION) == {
        **REPORT_CLASS_VISUALISATION,
        "step_size": 0.25,
        "steps": 3000,
        "steps_past_threshold": 1000,
    }
    assert dict(REPORT_NOISE_ATTACK) == {
        "step_size": 0.025,
        "clip": False,
        "steps_past_threshold": 1,
    }
    assert REPORT_NOISE_ATTACK.clip is False and UNIVERSAL_SETTINGS["target"] == 8
    assert "steps" not in REPORT_CLASS_VISUALISATION  # the caller's own steps= is allowed
    with pytest.raises(KeyError):
        REPORT_CLASS_VISUALISATION["steps"]
    # JSON as the report writes it: keys in the order of the fields
    assert json.dumps(dict(UNIVERSAL_SETTINGS)) == (
        '{"target": 8, "eps": 0.3, "norm": "linf", "steps": 100, "batch_size": 100}'
    )


def test_a_splatted_preset_runs_the_same_as_its_keywords_written_out():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    base, others = torch.full((1, 1, 2, 2), 0.5), torch.rand(3, 1, 2, 2)
    splat = noise_attack(net, base, [2], others=others, steps=5, **REPORT_NOISE_ATTACK)
    written = noise_attack(
        net, base, [2], others=others, steps=5, step_size=0.025, clip=False, steps_past_threshold=1
    )
    assert torch.equal(splat.noises, written.noises)
    grown = class_visualisation(net, [1], shape=(1, 2, 2), **REPORT_CLASS_VISUALISATION, steps=3)
    by_hand = class_visualisation(
        net, [1], shape=(1, 2, 2), objective="logit", normalise=False, step_size=0.025, steps=3
    )
    assert torch.equal(grown.images, by_hand.images)


def test_presets_are_read_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        REPORT_NOISE_ATTACK.clip = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        VARIANTS["robust"] = True  # type: ignore[index]
    with pytest.raises(TypeError):
        REPORT_TEST["bn"] = REPORT_TEST["nobn"]  # type: ignore[index]
