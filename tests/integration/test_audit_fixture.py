"""A bundle written by the first version of the format still verifies, with ours and with Go's.

``tests/fixtures/audit-bundle-v1`` was exported once and is never regenerated:
if a change to the code stops it verifying, or makes the check report
something else, the change breaks every bundle a regulator already holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.go_verifier import run_bundlecheck

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "audit-bundle-v1"
BIN = Path(sys.executable).parent / "bloodledger"


def _verify(bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN),
            "audit",
            "verify-bundle",
            str(bundle),
            "--json",
            "--trusted-checkpoint",
            str(FIXTURE / "trusted-checkpoint-250"),
            "--vkey",
            str(FIXTURE / "vkey"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_v1_bundle_verifies_today_as_it_did_when_written() -> None:
    done = _verify(FIXTURE / "bundle")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads((FIXTURE / "expected.json").read_text())


def test_gos_tools_verify_the_v1_bundle() -> None:
    done = run_bundlecheck(FIXTURE / "bundle", trusted=[FIXTURE / "trusted-checkpoint-250"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_edit_to_the_v1_bundle_still_fails(tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(FIXTURE / "bundle", copy)
    entry = sorted((copy / "entries").iterdir())[0]
    entry.write_bytes(entry.read_bytes().replace(b"bloodledger:", b"bloodledgeR:", 1))
    assert _verify(copy).returncode == 1
    assert run_bundlecheck(copy).returncode == 1
