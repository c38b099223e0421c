"""Settings of the pruning stage, built from the ``prune`` config section.

The classes declare the section's keys they read (types, defaults, ranges: the configuration
schema is generated from them): :class:`ChainSettings` the chain's course (how many
iterations, from which set, the selection's tolerance), :class:`PruneSettings` how many
landmarks each iteration drops (the policy names are the keys of
:data:`~emoflow.pruning.PRUNING_POLICIES`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from emoflow.config import SectionSettings, setting
from emoflow.facemesh.mesh import N_LANDMARKS, N_MESH_LANDMARKS
from emoflow.pruning.policies import PRUNING_POLICIES

log = logging.getLogger(__name__)

Policy = str
"""A key of :data:`~emoflow.pruning.PRUNING_POLICIES`."""

START_SETS: dict[str, int] = {"all": N_LANDMARKS, "mesh": N_MESH_LANDMARKS}
"""``prune.start`` → how many landmarks iteration 0 keeps (the first ones of the mesh; a
scheme of fewer points, such as ``ibug_68``, starts from all of them either way)."""

CHAIN_JOBS = ("split", "emotion")
"""``prune.chain_jobs``: what one job of the later iterations runs (:class:`ChainSettings`)."""

OTHER_STAGE_KEYS: dict[str, str] = {
    "iterations": "the workflow (how many pruning iterations)",
    "start": "initial_landmark_set (iteration 0's landmarks)",
    "tolerance": "summarise_iterations (the selection's tie tolerance)",
    "chain_jobs": "the workflow (how many jobs run the chains)",
    "compare": "compare_pruning (the baseline rankings run beside the chain)",
    "compare_seeds": "compare_pruning (random landmark sets per iteration)",
}
"""Keys of the ``prune`` config section that other stages read, not :class:`PruneSettings`."""


@dataclass(frozen=True)
class PruneSettings(SectionSettings):
    """How many landmarks each iteration drops: the ``prune`` config section.

    The section's :data:`OTHER_STAGE_KEYS` are read by other stages; :meth:`from_section`
    validates them and passes them over, :meth:`keys_from` leaves them out.

    Parameters
    ----------
    policy
        A key of :data:`~emoflow.pruning.PRUNING_POLICIES`. ``fraction``: drop ``fraction`` of
        the current landmarks; ``threshold``: drop those whose relevance is below
        ``threshold`` × the emotion's largest relevance; ``share``: keep the smallest set
        holding ``share`` of the total relevance. A policy's setting that differs from its
        default while another policy is chosen is logged as ignored.
    min_landmarks
        Never keep fewer than this many.
    symmetric
        Keep or drop left/right mirror landmarks together (ranked by their mean relevance).
    stop_tolerance
        Stop pruning an emotion once its validation balanced accuracy falls more than this
        below the best of the earlier iterations (its set is then kept as it is); ``None``
        never stops.
    """

    SECTION = "prune"
    OTHER_KEYS: ClassVar[Mapping[str, str]] = OTHER_STAGE_KEYS

    policy: Policy = setting("fraction", enum=PRUNING_POLICIES)
    fraction: float = setting(0.3, exclusive_minimum=0, exclusive_maximum=1)
    threshold: float = setting(0.05, minimum=0, exclusive_maximum=1)
    share: float = setting(0.9, exclusive_minimum=0, maximum=1)
    min_landmarks: int = setting(16, minimum=1)
    symmetric: bool = False
    stop_tolerance: float | None = setting(None, minimum=0)

    def __post_init__(self) -> None:
        self.check()
        for line in ignored_settings({f.name: getattr(self, f.name) for f in fields(self)}):
            log.warning("%s", line)

    def policy_estimator(self) -> Any:
        """A fresh, unfitted instance of the chosen policy with its setting."""
        policy = PRUNING_POLICIES[self.policy]
        return policy(**{policy.parameter: getattr(self, policy.parameter)})

    @classmethod
    def unused_keys(cls, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The settings of the policies that are not chosen: under ``policy: fraction`` a
        changed ``threshold`` re-runs nothing (:meth:`rule_params` leaves them out); each
        such value that differs from its default is logged as ignored."""
        for line in ignored_settings(values):
            log.warning("%s", line)
        chosen = PRUNING_POLICIES[values.get("policy", _FIELD_DEFAULTS["policy"])].parameter
        return tuple(
            policy.parameter for policy in PRUNING_POLICIES.values() if policy.parameter != chosen
        )

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> PruneSettings:
        """Settings from the whole ``prune`` config section (:meth:`from_section`)."""
        return cls.from_section(section)


_FIELD_DEFAULTS: dict[str, Any] = {field.name: field.default for field in fields(PruneSettings)}


def ignored_settings(section: Mapping[str, Any]) -> list[str]:
    """One line per setting of a policy that is not chosen and differs from its default
    (``prune.threshold = 0.1 is ignored: policy fraction uses prune.fraction``): what
    :class:`PruneSettings` logs, and what the workflow says when it plans a run (its rules
    never see those settings, :meth:`PruneSettings.rule_params`)."""
    chosen = section.get("policy", _FIELD_DEFAULTS["policy"])
    parameter = PRUNING_POLICIES[chosen].parameter
    return [
        f"prune.{policy.parameter} = {section[policy.parameter]!r} is ignored: policy "
        f"{chosen} uses prune.{parameter}"
        for policy in PRUNING_POLICIES.values()
        if policy.parameter != parameter
        and policy.parameter in section
        and section[policy.parameter] != _FIELD_DEFAULTS[policy.parameter]
    ]


_missing = [p.parameter for p in PRUNING_POLICIES.values() if p.parameter not in _FIELD_DEFAULTS]
if _missing:  # a registered policy whose setting has no field would never receive it
    raise ImportError(f"PruneSettings has no field for the pruning setting(s) {_missing}")


_CHAIN_KEYS = ("iterations", "start", "tolerance", "chain_jobs")


@dataclass(frozen=True)
class ChainSettings(SectionSettings):
    """The pruning chain's course: the keys of the ``prune`` section that the workflow,
    :func:`~emoflow.pruning.pruner.initial_landmark_set` and
    :func:`~emoflow.pruning.pruner.choose_iteration` read; their defaults are those
    functions' defaults.

    Parameters
    ----------
    iterations
        How many pruning iterations follow iteration 0.
    start
        Iteration 0's landmarks, a key of :data:`START_SETS`.
    tolerance
        Validation scores within this of the best tie (ties go to fewer landmarks).
    chain_jobs
        How the workflow shapes the chains' jobs (the results are the same): ``split``, one job
        for iteration 0 of every chain and one per split for the later iterations of every
        emotion's chain, one after another (every job pays ~1.4 s of CPU to start Python and
        import torch; fewest jobs, as a workstation wants); ``emotion``, iteration 0 a job per
        split and the later iterations a job per emotion and split (more jobs side by side,
        as a cluster with many GPUs wants).
    """

    SECTION = "prune"
    OTHER_KEYS: ClassVar[Mapping[str, str]] = {
        **{field.name: "PruneSettings (the chain's policy)" for field in fields(PruneSettings)},
        **{key: who for key, who in OTHER_STAGE_KEYS.items() if key not in _CHAIN_KEYS},
    }

    iterations: int = setting(4, minimum=0, maximum=50)
    start: str = setting("all", enum=tuple(START_SETS))
    tolerance: float = setting(0.0, minimum=0)
    chain_jobs: str = setting("split", enum=CHAIN_JOBS)

    def __post_init__(self) -> None:
        self.check()
