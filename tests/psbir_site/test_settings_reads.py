"""One way to read a setting: psbir_site/settings.py reads each environment variable once,
with its default; app code reads ``settings.X`` and states no default of its own.

The engines and the lab are plain Python without Django (their command lines take options);
they are outside this rule."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "retrieval", "personalization", "psbir_site")
# Reads that are not settings: the settings module itself, and what a process sets up before
# Django has settings (the ASGI entry's DJANGO_SETTINGS_MODULE) or hands to a child process.
ALLOWED = {"psbir_site/settings.py", "psbir_site/asgi.py"}


def _app_modules() -> list[Path]:
    files = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ALLOWED or any(
                part in rel
                for part in ("/migrations/", "/management/commands/", "/engine/", "/lab/")
            ):
                continue
            files.append(path)
    return files


def _second_hand_reads(tree: ast.AST) -> list[str]:
    """``getattr(settings, ...)`` and environment reads (``os.environ[...]``/``.get``,
    ``os.getenv``) of PSBIR settings."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Name)
                and func.id == "getattr"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "settings"
            ):
                found.append(f"line {node.lineno}: getattr(settings, ...)")
            text = ast.unparse(func)
            if text in ("os.getenv", "os.environ.get") and any(
                isinstance(a, ast.Constant) and str(a.value).startswith("PSBIR_") for a in node.args
            ):
                found.append(f"line {node.lineno}: {text}({ast.unparse(node.args[0])})")
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            found.append(f"line {node.lineno}: os.environ[...]")
    return found


def test_app_code_reads_settings_one_way():
    offenders = {}
    for path in _app_modules():
        reads = _second_hand_reads(ast.parse(path.read_text()))
        if reads:
            offenders[path.relative_to(ROOT).as_posix()] = reads
    assert offenders == {}, f"read these through settings.X (psbir_site/settings.py): {offenders}"


def test_the_check_finds_a_second_hand_read():
    tree = ast.parse(
        "x = getattr(settings, 'PSBIR_A', 1)\ny = os.environ.get('PSBIR_B', '2')\n"
        "z = os.environ['PSBIR_C']\n"
    )
    assert len(_second_hand_reads(tree)) == 3


def test_every_personalization_knob_has_its_default_in_settings():
    for name, kind in (
        ("PSBIR_PERSONAL_SAMPLES_PER_BRANCH", int),
        ("PSBIR_PERSONAL_LR", float),
        ("PSBIR_PERSONAL_ROUNDS", int),
        ("PSBIR_PERSONAL_BATCH_SIZE", int),
        ("PSBIR_PERSONAL_MAX_SKETCHES", int),
        ("PSBIR_PERSONAL_RESCORE_DEPTH", int),
        ("PSBIR_PERSONAL_RESCORE_DEPTH_POOLED", int),
        ("PSBIR_PERSONAL_MEMORY", bool),
        ("PSBIR_PERSONAL_MEMORY_MARKS", int),
        ("PSBIR_PERSONAL_OFFER_SUBJECTS", int),
        ("PSBIR_PERSONAL_CALIBRATED", bool),
        ("PSBIR_PRELOAD_MODEL", bool),
    ):
        assert isinstance(getattr(settings, name), kind), name
