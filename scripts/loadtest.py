#!/usr/bin/env python3
"""A bounded load test of the search API on a running server (stdlib only: threads + urllib).

N users, each with its own API token, run a fixed number of sketch searches concurrently;
optionally an admin imports a zip of new photos and / or starts a library re-index, and a
member asks for a personal-head training run at the start, so searches are measured while
they run in the background. Prints the
error rate and p50 / p95 / max latency; exits 1 when the error rate is above --max-error-rate.

    .venv/bin/python scripts/loadtest.py --base-url http://127.0.0.1:8000 \
        --user demo --password demo-sketch-2026 --users 4 --searches 15 \
        --admin demo-admin --reindex --train

--base-url may list several web processes (comma-separated): user i talks to process
i mod n, as behind a round-robin proxy. --wait then follows the re-index and training jobs
until they end and prints how they ended (they must end done / ready).

Every simulated user signs in with the same account unless --user is a comma-separated list;
the "search" throttle is per user (PSBIR_SEARCH_RATE, default 120/min), so keep
users x searches per account under it or raise the rate on the server.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if error:
                self.errors.append(error)


def call(
    base: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw[:200].decode(errors="replace")


def upload_zip(base: str, path: str, library_id: int, token: str) -> tuple[int, Any]:
    """POST a zip of photos to a library (multipart, field ``archive``)."""
    boundary = f"psbir-load-{time.time_ns()}"
    with open(path, "rb") as handle:
        payload = handle.read()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="archive"; '
            f'filename="load.zip"\r\nContent-Type: application/zip\r\n\r\n'
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{base}/api/libraries/{library_id}/images/zip/", data=body, method="POST"
    )
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:300].decode(errors="replace")


def token_for(base: str, username: str, password: str) -> str:
    body = {"username": username, "password": password}
    status, data = call(base, "POST", "/api/auth/token/", body)
    if status != 200:
        raise SystemExit(f"sign-in of {username!r} failed: {status} {data}")
    return data["token"]


def sketch(seed: int) -> dict[str, Any]:
    """A closed stroke (a wobbly circle) that differs a little per request."""
    n, r = 40, 120 + (seed % 7) * 10
    points = [
        [256 + r * math.cos(2 * math.pi * i / n), 256 + r * math.sin(2 * math.pi * i / n)]
        for i in range(n + 1)
    ]
    return {"width": 512, "height": 512, "strokes": [{"points": points, "width": 4}]}


def user_loop(base: str, token: str, searches: int, offset: int, out: Outcome) -> None:
    for i in range(searches):
        started = time.perf_counter()
        status, data = call(
            base, "POST", "/api/search/", {"strokes": sketch(offset + i), "top_k": 20}, token
        )
        elapsed = time.perf_counter() - started
        ok = status == 201 and isinstance(data, dict) and data.get("results")
        detail = data.get("detail") if isinstance(data, dict) else data
        out.add(elapsed, None if ok else f"{status}: {detail}")


@dataclass
class Background:
    notes: list[str] = field(default_factory=list)
    # (label, API path of the job, admin or member token)
    jobs: list[tuple[str, str, str]] = field(default_factory=list)


def start_background(base: str, args: argparse.Namespace, member_token: str) -> Background:
    """Start a re-index (admin) and a training run (member); returns what happened."""
    out = Background()
    if args.reindex or args.upload_zip:
        admin = token_for(base, args.admin, args.password)
        status, libraries = call(base, "GET", "/api/libraries/", token=admin)
        if status != 200 or not libraries:
            raise SystemExit(f"no library to work on: HTTP {status} {libraries}")
        library = libraries[0]
    if args.upload_zip:
        # New photos: the workers embed each one (VGG forward passes) during the searches.
        status, outcome = upload_zip(base, args.upload_zip, library["id"], admin)
        job = outcome.get("job", {}) if isinstance(outcome, dict) else {}
        out.notes.append(
            f"zip import into library {library['id']}: HTTP {status}, "
            f"job {job.get('id')} with {job.get('total')} photos"
        )
        if "id" in job:
            out.jobs.append(("import", f"/api/jobs/{job['id']}/", admin))
    if args.reindex:
        status, job = call(base, "POST", f"/api/libraries/{library['id']}/reindex/", {}, admin)
        out.notes.append(f"re-index of library {library['id']}: HTTP {status}, job {job}")
        if isinstance(job, dict) and "id" in job:
            out.jobs.append(("re-index", f"/api/jobs/{job['id']}/", admin))
    if args.train:
        # Training needs marked feedback: search once and mark the first result.
        status, query = call(
            base, "POST", "/api/search/", {"strokes": sketch(0), "top_k": 5}, member_token
        )
        if status == 201 and query.get("results"):
            call(
                base,
                "POST",
                "/api/personalization/feedback/",
                {"query_id": query["id"], "result_ids": [query["results"][0]["id"]]},
                member_token,
            )
        status, job = call(base, "POST", "/api/personalization/training/", {}, member_token)
        out.notes.append(f"training request: HTTP {status}, job {job}")
        if isinstance(job, dict) and "id" in job:
            out.jobs.append(("training", f"/api/personalization/jobs/{job['id']}/", member_token))
    return out


def wait_for_jobs(base: str, background: Background, timeout: float) -> list[str]:
    """Poll each background job until it ends; returns one line per job (and False if any
    did not end well)."""
    lines = []
    deadline = time.monotonic() + timeout
    for label, path, token in background.jobs:
        started = time.monotonic()
        while True:
            status, job = call(base, "GET", path, token=token)
            state = job.get("status") or job.get("state") if isinstance(job, dict) else None
            if state in ("done", "ready", "failed") or time.monotonic() > deadline:
                break
            time.sleep(2)
        lines.append(
            f"{label} job: {state} after a further {time.monotonic() - started:.0f} s "
            f"({job.get('message', '') if isinstance(job, dict) else job})"
        )
    return lines


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url", default="http://127.0.0.1:8000", help="web process(es), comma-separated"
    )
    parser.add_argument("--user", default="demo", help="account(s), comma-separated")
    parser.add_argument("--password", default="demo-sketch-2026")
    parser.add_argument("--admin", default="demo-admin", help="admin account for --reindex")
    parser.add_argument("--users", type=int, default=4, help="concurrent simulated users")
    parser.add_argument("--searches", type=int, default=15, help="searches per user")
    parser.add_argument("--reindex", action="store_true", help="re-index the first library")
    parser.add_argument("--upload-zip", help="a zip of photos the admin imports at the start")
    parser.add_argument("--train", action="store_true", help="request a head training run")
    parser.add_argument("--wait", type=float, default=0, help="seconds to wait for the jobs")
    parser.add_argument("--max-error-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 64 or not 1 <= args.searches <= 1000:
        parser.error("bounded on purpose: 1..64 users, 1..1000 searches each")
    bases = [url.rstrip("/") for url in args.base_url.split(",")]
    base = bases[0]

    accounts = args.user.split(",")
    tokens = {name: token_for(base, name, args.password) for name in accounts}
    background = start_background(base, args, tokens[accounts[0]])
    out = Outcome()
    threads = [
        threading.Thread(
            target=user_loop,
            args=(
                bases[i % len(bases)],
                tokens[accounts[i % len(accounts)]],
                args.searches,
                i * 1000,
                out,
            ),
        )
        for i in range(args.users)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    total = len(out.latencies)
    rate = len(out.errors) / total if total else 1.0
    for note in background.notes:
        print(note)
    print(
        f"requests: {total} ({args.users} users x {args.searches} searches, "
        f"{len(bases)} web process(es)) in {wall:.1f} s"
    )
    print(f"throughput: {total / wall:.2f} searches/s")
    print(f"errors: {len(out.errors)} (rate {rate:.3%})")
    if out.latencies:
        print(
            f"latency s: p50 {statistics.median(out.latencies):.3f}  "
            f"p95 {percentile(out.latencies, 0.95):.3f}  max {max(out.latencies):.3f}"
        )
    for error in out.errors[:5]:
        print(f"  e.g. {error}")
    jobs_ok = True
    if args.wait > 0:
        for line in wait_for_jobs(base, background, args.wait):
            print(line)
            jobs_ok = jobs_ok and (": done " in line or ": ready " in line)
    return 0 if rate <= args.max_error_rate and jobs_ok else 1


if __name__ == "__main__":
    sys.exit(main())
