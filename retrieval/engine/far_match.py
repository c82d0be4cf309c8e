"""When a sketch search's best match is far: a distance threshold per general model.

A library that holds nothing like the drawing still returns its K nearest photos; only the
distance says they are weak. The threshold is measured on training data
(:mod:`retrieval.lab.studies.far_match`: training sketches asked as
search asks them, their best distance with their category in the gallery and with it
removed) and kept in ``assets/far_match.json`` under the general model's version (what the
served engine calls ``model_version``); a model without a measured threshold gets no note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .rule_files import read_entries, write_entry

FAR_MATCH_PATH = Path(__file__).resolve().parent / "assets" / "far_match.json"


@dataclass(frozen=True)
class FarMatchRule:
    """Best general distances above ``threshold`` are "far" for the model ``head``."""

    head: str
    threshold: float
    measured: dict[str, Any] = field(default_factory=dict)

    def is_far(self, best_distance: float | None) -> bool:
        return best_distance is not None and best_distance > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {"head": self.head, "threshold": self.threshold, "measured": self.measured}


def load_rules(path: Path = FAR_MATCH_PATH) -> dict[str, FarMatchRule]:
    """Every measured rule of ``path``, by model version (none when the file is absent)."""
    return {
        e["head"]: FarMatchRule(
            head=e["head"], threshold=float(e["threshold"]), measured=e.get("measured", {})
        )
        for e in read_entries(path)
    }


@lru_cache(maxsize=8)
def rule_for(model_version: str) -> FarMatchRule | None:
    """The shipped rule of ``model_version``, or None (then no search is called far)."""
    return load_rules().get(model_version)


def save_rule(rule: FarMatchRule, path: Path = FAR_MATCH_PATH) -> None:
    """Add or replace ``rule`` (by head) in ``path``."""
    write_entry(path, rule.to_dict())
    rule_for.cache_clear()
