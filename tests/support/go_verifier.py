"""The independent Go verifier of audit bundles (``verifiers/go/bundlecheck``), for the tests.

It is built once per test session, in GOPATH mode and without a network, from
the Go toolchain and Debian's ``golang-golang-x-mod-dev`` (the sources of
``golang.org/x/mod/sumdb/note`` and ``sumdb/tlog`` under ``/usr/share/gocode``).
Without Go the tests that need it fail — CI installs it, so a missing
toolchain is a broken environment, not a reason to skip.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "verifiers" / "go" / "bundlecheck"
#: Where Debian's golang-golang-x-mod-dev installs golang.org/x/mod's sources.
SYSTEM_GOPATH = Path("/usr/share/gocode")
PACKAGES = "golang-go golang-golang-x-mod-dev"


def _gopath(work: Path) -> str:
    """A GOPATH of our own first (Go writes there), then wherever golang.org/x/mod is."""
    entries = [str(work / "gopath"), str(SYSTEM_GOPATH)]
    entries += [p for p in os.environ.get("GOPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(entries)


@functools.cache
def bundlecheck_binary() -> Path:
    """The path of the built ``bundlecheck`` (built on the first call of the session)."""
    go = shutil.which("go")
    if go is None:
        pytest.fail(
            f"the Go verifier needs the `go` command: apt-get install {PACKAGES}", pytrace=False
        )
    work = Path(tempfile.mkdtemp(prefix="bundlecheck-"))
    atexit.register(shutil.rmtree, work, True)
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": _gopath(work),
        "GOCACHE": str(work / "cache"),
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
    }
    binary = work / "bundlecheck"
    built = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if built.returncode != 0:
        hint = ""
        if "golang.org/x/mod" in built.stderr:
            hint = f"\n(golang.org/x/mod is not in GOPATH: apt-get install {PACKAGES})"
        pytest.fail(f"go build {SOURCE} failed:\n{built.stderr}{hint}", pytrace=False)
    return binary


def run_bundlecheck(
    bundle_dir: Path | str, trusted: Iterable[Path | str] = ()
) -> subprocess.CompletedProcess[str]:
    """``bundlecheck [-trusted FILE]... DIR``; its exit status and output, never raising."""
    args = [str(bundlecheck_binary())]
    for file in trusted:
        args += ["-trusted", str(file)]
    args.append(str(bundle_dir))
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
