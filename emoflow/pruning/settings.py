"""Settings of the pruning stage, built from the ``prune`` config section."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from emoflow.errors import ConfigError
from emoflow.pruning.policies import PRUNING_POLICIES

log = logging.getLogger(__name__)

Policy = str
"""A key of :data:`~emoflow.pruning.PRUNING_POLICIES`."""

OTHER_STAGE_KEYS: dict[str, str] = {
    "iterations": "the workflow (how many pruning iterations)",
    "start": "initial_landmark_set (iteration 0's landmarks)",
    "tolerance": "summarise_iterations (the selection's tie tolerance)",
}
"""Keys of the ``prune`` config section that other stages read, not :class:`PruneSettings`."""


@dataclass(frozen=True)
class PruneSettings:
    """How many landmarks each iteration drops.

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

    policy: Policy = "fraction"
    fraction: float = 0.3
    threshold: float = 0.05
    share: float = 0.9
    min_landmarks: int = 16
    symmetric: bool = False
    stop_tolerance: float | None = None

    def __post_init__(self) -> None:
        chosen = PRUNING_POLICIES.get(self.policy)
        if chosen is None:
            raise ConfigError(
                f"prune.policy must be one of {', '.join(PRUNING_POLICIES)}, got {self.policy!r}"
            )
        for policy in PRUNING_POLICIES.values():
            value = getattr(self, policy.parameter)
            policy.check(value)
            default = _FIELD_DEFAULTS[policy.parameter]
            if policy is not chosen and value != default:
                log.warning(
                    "prune.%s = %r is ignored: policy %s uses prune.%s",
                    policy.parameter,
                    value,
                    self.policy,
                    chosen.parameter,
                )
        if self.min_landmarks < 1:
            raise ConfigError(f"prune.min_landmarks must be ≥ 1, got {self.min_landmarks}")
        if self.stop_tolerance is not None and self.stop_tolerance < 0:
            raise ConfigError(f"prune.stop_tolerance must be ≥ 0, got {self.stop_tolerance}")

    def policy_estimator(self) -> Any:
        """A fresh, unfitted instance of the chosen policy with its setting."""
        policy = PRUNING_POLICIES[self.policy]
        return policy(**{policy.parameter: getattr(self, policy.parameter)})

    @classmethod
    def keys_from(cls, section: Mapping[str, Any]) -> dict[str, Any]:
        """The entries of a ``prune`` config section that are these settings', in its order.

        Keys read by other stages (:data:`OTHER_STAGE_KEYS`) are passed over; any other key
        is a :class:`ConfigError`, so a setting no stage reads cannot be silently ignored.
        """
        own = set(_FIELD_DEFAULTS)
        unknown = [key for key in section if key not in own and key not in OTHER_STAGE_KEYS]
        if unknown:
            raise ConfigError(
                f"prune: unknown setting(s) {', '.join(map(str, unknown))}; known: "
                f"{', '.join([*_FIELD_DEFAULTS, *OTHER_STAGE_KEYS])}"
            )
        return {key: value for key, value in section.items() if key in own}

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> PruneSettings:
        """Settings from the whole ``prune`` config section (see :meth:`keys_from`)."""
        return cls(**cls.keys_from(section))


_FIELD_DEFAULTS: dict[str, Any] = {field.name: field.default for field in fields(PruneSettings)}

_missing = [p.parameter for p in PRUNING_POLICIES.values() if p.parameter not in _FIELD_DEFAULTS]
if _missing:  # a registered policy whose setting has no field would never receive it
    raise ImportError(f"PruneSettings has no field for the pruning setting(s) {_missing}")
