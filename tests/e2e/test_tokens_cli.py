"""``bloodledger token`` and ``bloodledger access-log`` as an operator runs them.

A token is printed once, alone on stdout, and never again: not by ``token list``
(text or JSON), not in the store. Bad roles, names and FINs, a name taken and a
token that is not there exit 2 with one line. A revoked token stops
authenticating at once. The access log shows, to whoever holds the cipher key,
who was shown which identifiers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.adapters.persistence import store_for
from ledger.bootstrap import open_access
from ledger.domain.access import Unauthenticated
from ledger.domain.identity import IdentityKey, generate_master_key

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent / "bloodledger"
TOKEN = re.compile(r"blt_[A-Za-z0-9_-]{43}")


@dataclass
class Operator:
    url: str
    env: dict[str, str]

    def run(self, *args: str, key: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if not key:
            env.pop("BLOODLEDGER_CIPHER_KEY")
        return subprocess.run(
            [str(BIN), *args], capture_output=True, text=True, timeout=120, env=env
        )

    def key(self) -> IdentityKey:
        return IdentityKey(self.env["BLOODLEDGER_CIPHER_KEY"])


@pytest.fixture(params=["sqlite", "postgresql"])
def operator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Operator]:
    from tests.conftest import _store

    for url in _store(request.param, tmp_path):
        env = {
            **os.environ,
            "BLOODLEDGER_STORE": url,
            "BLOODLEDGER_CIPHER_KEY": generate_master_key(),
        }
        yield Operator(url, env)


def _stored(url: str) -> bytes:
    if not url.startswith("sqlite"):
        return b""  # the store's rows are searched in tests/integration/test_access.py
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def test_a_token_is_shown_once_listed_never_and_revoked_at_once(operator: Operator) -> None:
    made = operator.run("token", "create", "--role", "clinician", "--name", "ward-3",
                        "--facility", "S3101")  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert TOKEN.fullmatch(token) and made.stdout == token + "\n"
    assert "shown once" in made.stderr and token not in made.stderr
    assert operator.run("token", "create", "--role", "admin", "--name", "root").returncode == 0

    listed = operator.run("token", "list")
    as_json = operator.run("token", "list", "--json")
    assert listed.returncode == 0 and as_json.returncode == 0, listed.stderr + as_json.stderr
    for output in (listed.stdout, listed.stderr, as_json.stdout, as_json.stderr):
        assert token not in output and not TOKEN.search(output)
    assert "ward-3  clinician  S3101" in listed.stdout and "2 tokens, 2 active" in listed.stdout
    tokens = {t["name"]: t for t in json.loads(as_json.stdout)["tokens"]}
    assert tokens["ward-3"]["role"] == "clinician" and tokens["ward-3"]["active"]
    assert token.encode() not in _stored(operator.url)

    with open_access(store_for(operator.url), identity_key=operator.key()) as access:
        assert access.control.authenticate(token).facility == "S3101"
    revoked = operator.run("token", "revoke", "ward-3")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    with (
        open_access(store_for(operator.url), identity_key=operator.key()) as access,
        pytest.raises(Unauthenticated, match="revoked"),
    ):
        access.control.authenticate(token)
    after = json.loads(operator.run("token", "list", "--json").stdout)["tokens"]
    assert [(t["name"], t["active"]) for t in after] == [("root", True), ("ward-3", False)]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "nurse", "--name", "n"], "invalid choice: 'nurse'"),
        (["--role", "clinician", "--name", "n"], "give --facility FIN"),
        (["--role", "integrator", "--name", "n", "--facility", "S31"], "not an ISBT 128 FIN"),
        (["--role", "regulator", "--name", "n", "--facility", "S3101"], "has no facility"),
        (["--role", "admin", "--name", "two words"], "token name"),
    ],
)
def test_bad_roles_facilities_and_names_exit_2_with_a_clear_line(
    operator: Operator, args: list[str], says: str
) -> None:
    done = operator.run("token", "create", *args)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


def test_a_name_taken_or_a_token_not_there_exits_2(operator: Operator) -> None:
    assert operator.run("token", "create", "--role", "admin", "--name", "root").returncode == 0
    again = operator.run("token", "create", "--role", "investigator", "--name", "root")
    assert again.returncode == 2 and "'root' exists already" in again.stderr
    assert again.stdout == ""
    nobody = operator.run("token", "revoke", "nobody")
    assert nobody.returncode == 2 and "no token named 'nobody'" in nobody.stderr
    assert operator.run("token", "revoke", "root").returncode == 0
    twice = operator.run("token", "revoke", "root")
    assert twice.returncode == 2 and "not already revoked" in twice.stderr


def test_the_access_log_shows_who_saw_whom_given_the_key(operator: Operator) -> None:
    made = operator.run("token", "create", "--role", "investigator", "--name", "hv")
    assert made.returncode == 0, made.stderr
    empty = operator.run("access-log", "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == {"entries": []}, empty.stderr

    with open_access(store_for(operator.url), identity_key=operator.key()) as access:
        hv = access.control.authenticate(made.stdout.strip())
        access.control.record_reveal(hv, "/trace", [("donor", "D000731"), ("patient", "P-88")])
        access.control.record_reveal(hv, "/lookbacks/{case_id}", [("donor", "D000731")])
    assert b"D000731" not in _stored(operator.url)

    shown = operator.run("access-log", "--json")
    assert shown.returncode == 0, shown.stderr
    entries = json.loads(shown.stdout)["entries"]
    assert [(e["token_name"], e["role"], e["route"]) for e in entries] == [
        ("hv", "investigator", "/lookbacks/{case_id}"),
        ("hv", "investigator", "/trace"),
    ]
    assert entries[1]["identifiers"] == [
        {"kind": "donor", "id": "D000731"},
        {"kind": "patient", "id": "P-88"},
    ]
    newest = json.loads(operator.run("access-log", "--json", "--limit", "1").stdout)["entries"]
    assert [e["route"] for e in newest] == ["/lookbacks/{case_id}"]
    text = operator.run("access-log")
    assert "hv (investigator)  /trace  donor D000731, patient P-88" in text.stdout
    assert "2 entries, newest first" in text.stdout

    withheld = operator.run("access-log", key=False)
    assert withheld.returncode == 2 and "BLOODLEDGER_CIPHER_KEY" in withheld.stderr
    assert "D000731" not in withheld.stdout + withheld.stderr
    # Managing tokens needs no cipher key.
    assert operator.run("token", "list", key=False).returncode == 0
