"""The protocol's outputs: machine record, stage timer, PNG plots, report.json, a text summary."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from retrieval.engine.checkpoints import atomic_write
from retrieval.lab.metrics import plot_pr_curves

# The paper's headline figures on Flickr15K (Table 2, Table 3), printed next to ours.
PAPER = {
    "dataset": "Flickr15K (14,660 photos, 33 shape categories, 330 query sketches)",
    "general_map": 0.6449,
    "hog_map": 0.1093,
    "finegrained_map_general": 0.2507,
    "finegrained_map_personal": 0.6015,
}


def machine(device: torch.device | str) -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def code_version() -> dict:
    """The command line and the checkout's commit (None outside a git checkout)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"command": " ".join(sys.argv), "git_commit": commit or None}


class StageTimer:
    """Wall seconds per named stage, in the order they ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started = time.monotonic()

    @contextmanager
    def stage(self, name: str):
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - start, 2)

    def total(self) -> float:
        return round(time.monotonic() - self.started, 2)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; "no figure" reads the same
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, report: dict) -> None:
    text = json.dumps(_json_safe(report), indent=2, sort_keys=False, allow_nan=False)
    atomic_write(Path(path), lambda fh: fh.write((text + "\n").encode()))


def _curve(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(entry["recall"]), np.asarray(entry["precision"])


def plot_general(general: dict, path: Path, names: dict[str, str]) -> None:
    curves = {f"{names[m]} (mAP {r['map']:.3f})": _curve(r["pr_curve"]) for m, r in general.items()}
    plot_pr_curves(curves, path, title="Category-level P-R (test sketches)")


def plot_finegrained(pr: dict, path: Path) -> None:
    labels = {"0.0": "general (w=0)", "0.5": "mixed (w=0.5)", "1.0": "personal (w=1)"}
    curves = {labels[w]: _curve(pr[w]) for w in labels if w in pr}
    plot_pr_curves(curves, path, title="Fine-grained P-R (sub-category relevance)")


def _axes(figsize=(5, 4)):
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, dpi=120)
    return plt, fig, ax


def _save(plt, fig, path: Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_w_sweep(sweep: dict, path: Path) -> None:
    plt, fig, ax = _axes()
    ws = [float(w) for w in sweep]
    ax.plot(ws, [sweep[w]["map"] for w in sweep], marker="o", label="ours")
    ax.plot(
        [0.0, 1.0],
        [PAPER["finegrained_map_general"], PAPER["finegrained_map_personal"]],
        linestyle="none",
        marker="s",
        color="grey",
        label="paper, Flickr15K (w=0, w=1)",
    )
    ax.set(xlabel="w (eq. 18)", ylabel="fine-grained mAP", ylim=(0, 1), title="Fig. 13: w sweep")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    _save(plt, fig, path)


def plot_rounds(curve: list[dict], path: Path) -> None:
    plt, fig, ax = _axes((5.5, 4))
    rounds = [p["round"] for p in curve]
    for name in ("product", "product_confirmed", "general", "rocchio", "one_nn", "head"):
        if name not in curve[0]["residual"]:
            continue
        style = "--" if name == "general" else "-"
        values = [p["residual"][name] for p in curve]
        ax.plot(rounds, values, style, marker="o", label=f"{name} (residual, on topic)")
    ax.plot(
        rounds,
        [p["off_topic"]["retention"] for p in curve],
        ":",
        marker="s",
        label="off-topic retention",
    )
    ax.set(
        xlabel="feedback rounds (one query of each taught subject + its marks)",
        ylabel="mAP / retention",
        ylim=(0, 1.05),
        title="Mixed-subject users: on topic and off topic",
    )
    ax.set_xticks(rounds)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    _save(plt, fig, path)


def plot_table3(table3: dict, path: Path) -> None:
    general, personal = table3["general"]["per_category"], table3["personal"]["per_category"]
    cats = list(general)
    plt, fig, ax = _axes((max(5, 0.5 * len(cats) + 2), 4))
    x = np.arange(len(cats))
    ax.bar(x - 0.2, [general[c] for c in cats], 0.4, label="general (w=0)")
    ax.bar(x + 0.2, [personal.get(c, np.nan) for c in cats], 0.4, label="personal (w=1)")
    ax.set_xticks(x, cats, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="fine-grained AP", ylim=(0, 1), title="Table 3: AP per parent category")
    ax.legend(loc="best")
    _save(plt, fig, path)


def text_summary(report: dict) -> str:
    """A few lines for the terminal."""
    lines = [f"dataset {report['dataset']['path']} ({report['dataset']['layout']})"]
    for method, r in (report.get("general") or {}).get("methods", {}).items():
        lines.append(
            f"  {method:10s} mAP {r['map']:.4f}  P@10 {r['p_at_10']:.3f}  "
            f"P@100 {r['p_at_100']:.3f}  ({r['queries']} queries, {r['gallery']} photos)"
        )
    personal = report.get("personalization") or {}
    if personal.get("skipped"):
        lines.append(f"  personalization skipped: {personal['skipped']}")
    elif personal:
        t3 = personal["table3"]
        lines.append(
            f"  fine-grained mAP general {t3['general']['map']:.4f} -> personal "
            f"{t3['personal']['map']:.4f} ({len(personal['users'])} users)"
        )
        sweep = ", ".join(f"w={w}: {v['map']:.3f}" for w, v in personal["w_sweep"].items())
        lines.append(f"  w sweep {sweep}")
        lines.append(f"  rounds: {personal['rounds']['verdict']}")
        for point in report.get("rounds") or []:
            res, off = point["residual"], point["off_topic"]
            lines.append(
                f"    round {point['round']:2d}: residual on topic: product {res['product']:.3f}"
                f"  general {res['general']:.3f}  rocchio {res['rocchio']:.3f}  1-NN "
                f"{res['one_nn']:.3f}  head {res['head']:.3f}; off-topic retention "
                f"{off['retention']:.3f}"
                + (
                    f"; after the user's yes: {res['product_confirmed']:.3f}"
                    if "product_confirmed" in res
                    else ""
                )
            )
    lines.append(f"  wall time {report['wall_seconds']:.0f} s")
    return "\n".join(lines)
