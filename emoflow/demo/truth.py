"""Ground truth: which landmarks each emotion moves (``ground_truth.json``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from emoflow.demo.actions import Action
from emoflow.demo.movements import OPTIONAL_NUISANCE, demo_actions
from emoflow.demo.spec import DEFAULT_SPEC, GROUND_TRUTH_THRESHOLD, OPTIONAL_FIELDS, DemoSpec
from emoflow.facemesh.mesh import N_LANDMARKS


def _displacement_at_landmarks(actions: list[Action]) -> np.ndarray:
    """Summed displacement of ``actions`` at the neutral landmarks, ``(478, 2)`` canonical."""
    face = demo_actions().face
    displacement = np.zeros((N_LANDMARKS, 2))
    for action in actions:
        displacement += action.field(face.points, face)
    return displacement


def _above_threshold(magnitude: np.ndarray) -> list[int]:
    """Ids of the landmarks whose displacement (in face widths) exceeds the threshold."""
    return [int(i) for i in np.flatnonzero(magnitude > GROUND_TRUTH_THRESHOLD)]


def peak_displacement(emotion: str) -> np.ndarray:
    """An emotion's nominal peak displacement at the neutral landmarks, shape ``(478, 2)``.

    In canonical units (fractions of the face crop side), at intensity 1 and default style.
    """
    return _displacement_at_landmarks(demo_actions().emotions[emotion])


def ground_truth(spec: DemoSpec = DEFAULT_SPEC) -> dict[str, Any]:
    """What moves in the demo data set, as written to ``ground_truth.json``.

    Returns
    -------
    dict
        ``emotions``: per emotion, the ``regions`` and ``actions`` that produce it, the
        ``landmarks`` its peak displacement (intensity 1, ``expression_scale`` 1) moves by more
        than :data:`GROUND_TRUTH_THRESHOLD` face widths, and ``peak_displacement``, that motion
        (at the spec's ``expression_scale``) for all 478 landmarks in face widths.
        ``nuisance``: the random movements present in every class (landmarks listed at a
        typical peak: a full blink, a 2σ twitch), head motion and pixel noise. ``subjects``:
        what differs between subjects (static). ``spec``: the spec.
    """
    actions = demo_actions()
    face = actions.face
    emotions = {}
    for emotion in spec.emotions:
        emotion_actions = actions.emotions[emotion]
        displacement = spec.expression_scale * _displacement_at_landmarks(emotion_actions)
        # Rounded first, so that the listed landmarks follow from the listed displacements.
        magnitude = np.round(np.linalg.norm(displacement, axis=1) / face.width, 4)
        emotions[emotion] = {
            "regions": sorted({name for action in emotion_actions for name in action.regions}),
            "actions": [action.name for action in emotion_actions],
            # which landmarks the emotion moves does not depend on how strongly every
            # emotion is played (demo.expression_scale): listed at full scale
            "landmarks": _above_threshold(
                magnitude / spec.expression_scale if spec.expression_scale > 0 else magnitude
            ),
            "peak_displacement": [round(float(value), 4) for value in magnitude],
        }
    nuisance: dict[str, Any] = {}
    for name, action in actions.nuisance.items():
        knob = OPTIONAL_NUISANCE.get(name)
        if knob is not None and getattr(spec, knob) <= 0:
            continue  # a movement this spec does not use
        typical_peak = (1.0 if spec.blink_rate > 0 else 0.0) if name == "blink" else 2 * spec.twitch
        if knob is not None:
            typical_peak = 2 * getattr(spec, knob)
        magnitude = np.linalg.norm(typical_peak * _displacement_at_landmarks([action]), axis=1)
        nuisance[name] = {
            "regions": list(action.regions),
            "landmarks": _above_threshold(magnitude / face.width),
            "signal": (
                f"Poisson blinks, {spec.blink_rate} per second, 0.2-0.35 s each"
                if name == "blink"
                else f"speech (3-5 syllables per second), scale {spec.talking}"
                if knob == "talking"
                else f"per-subject habit (one side, strength 0.3-1.5), scale {spec.idiosyncrasy}"
                if knob == "idiosyncrasy"
                else f"smooth Gaussian noise, standard deviation {spec.twitch}"
            ),
        }
    nuisance["head_motion"] = {
        "amplitude": spec.head_motion,
        "signal": "in-plane similarity transform: slow drift + sinusoid + per-frame jitter",
    }
    nuisance["pixel_noise_std"] = spec.noise_std
    shape_displacement = np.zeros(N_LANDMARKS)
    for action in actions.identity.values():
        shape_displacement = np.maximum(
            shape_displacement, np.linalg.norm(_displacement_at_landmarks([action]), axis=1)
        )
    subjects = {
        "shape_actions": list(actions.identity),
        "shape_landmarks": _above_threshold(shape_displacement / face.width),
        "pose": "scale 0.88-1.12, aspect ±8%, rotation ±7°, shear ±0.06, offset ±4%",
        "colour": "hue, saturation, gamma, contrast, brightness, white balance",
        "intensity_range": list(spec.intensity_range),
        "style": "each subject scales each emotion action by 0.8-1.2",
    }
    return {
        "emotions": emotions,
        "nuisance": nuisance,
        "subjects": subjects,
        "threshold_face_widths": GROUND_TRUTH_THRESHOLD,
        "spec": {
            key: value
            for key, value in dataclasses.asdict(spec).items()
            if key not in OPTIONAL_FIELDS or value != getattr(DEFAULT_SPEC, key)
        },
    }
