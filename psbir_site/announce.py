"""Wait until the web server listens, then say where it runs (used by scripts/start.sh).

    python -m psbir_site.announce HOST PORT SERVER_PID "demo logins: ..."

Polls the port every 0.2 s; exits 1 (saying why) when the server process ends first or the
port is still closed after ``--timeout`` seconds. With ``--wait-search`` it then polls
``/healthz`` until the search model is loaded and says so ("search is ready").
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import urllib.request


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_line(host: str, port: int, note: str = "") -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"PSBIR is running on http://{shown}:{port}/" + (f" ({note})" if note else "")


def search_ready(host: str, port: int) -> dict | None:
    """/healthz's answer when it says search is ready (or why it never will), else None."""
    shown = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{shown}:{port}/healthz", timeout=2) as response:
            state = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return state if state.get("search_ready") or state.get("model_error") else None


def wait_for_search(host: str, port: int, pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        state = search_ready(host, port)
        if state is not None:
            if state.get("model_error"):
                print(f"The search model could not be loaded: {state['model_error']}", flush=True)
                return 1
            seconds = state.get("model_load_seconds")
            loaded = f" (the model loaded in {seconds:.1f} s)" if seconds is not None else ""
            print(f"Search is ready{loaded}.", flush=True)
            return 0
        time.sleep(0.3)
    print("The search model was not ready in time; the first search will load it.", flush=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("pid", type=int, help="the server process: stop waiting if it ends")
    parser.add_argument("note", nargs="?", default="")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--wait-search", action="store_true", help="then wait until /healthz says search is ready"
    )
    args = parser.parse_args(argv)
    connect_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    if connect_host == "::":
        connect_host = "::1"
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if listening(connect_host, args.port):
            print(running_line(args.host, args.port, args.note), flush=True)
            if args.wait_search:
                wait_for_search(connect_host, args.port, args.pid, args.timeout)
            return 0
        if not alive(args.pid):
            print(f"The web server (pid {args.pid}) stopped before it listened.", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(
        f"The web server did not listen on {args.host}:{args.port} within {args.timeout:.0f} s.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
