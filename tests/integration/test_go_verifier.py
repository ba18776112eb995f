"""Audit bundles checked by someone else's code: Go's ``sumdb/note`` and ``sumdb/tlog``.

The bundles are built here from the ledger's domain modules (leaves, the
Merkle arithmetic, signed notes) exactly as ``docs/audit.md`` lays them out,
from a small synthetic log: the ledger's record that identifiers are
protected, then 40 facts about 8 units collected at one facility and issued and
transfused at another, from 3 sealed donors to 2 sealed patients (the bundles'
tree of 41), then 3 more; with earlier checkpoints published along the way and
a witness cosigning them. The Go program (``verifiers/go/bundlecheck``) must accept them, and
must reject each way of tampering with one, naming the file that is wrong.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from ledger.domain.identity import IdentityKey, generate_master_key, token_of
from ledger.domain.leaf import Chains, Leaf, din_key, facility_day_key, keys_of
from ledger.domain.merkle import (
    Node,
    StridedNodes,
    TreeEdge,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    tree_root,
)
from ledger.domain.note import (
    COSIGNATURE,
    Checkpoint,
    Note,
    SigningKey,
    TlogProof,
    b64,
    hash_lines,
)
from tests.support.go_verifier import bundlecheck_binary, run_bundlecheck

pytestmark = pytest.mark.integration

ORIGIN = "bloodledger/test-regional-centre"
LEDGER_KEY = SigningKey.generate(ORIGIN)
WITNESS_KEY = SigningKey.generate("witness.example/w1", COSIGNATURE)
#: The bundle's tree size; the log goes on past it (to show a bundle older than a trusted head).
SIZE = 41
LOG_SIZE = 44
#: Sizes of the checkpoints published before the bundle's.
PUBLISHED = (1, 8, 16, 25, 33)
#: The forked history shares the first FORK_AT facts, then differs.
FORK_AT = 10
CENTRE, HOSPITAL = "A9999", "B1234"
DINS = [f"A99992600000{n}" for n in range(1, 9)]
#: (topic, facility, day of September 2026) of each unit's five facts, in order.
STEPS = [
    ("bloodledger:UnitCollected", CENTRE, 1),
    ("bloodledger:UnitTested", CENTRE, 1),
    ("bloodledger:UnitReleased", CENTRE, 2),
    ("bloodledger:UnitIssued", HOSPITAL, 3),
    ("bloodledger:UnitTransfused", HOSPITAL, 3),
]
IDENTITIES = IdentityKey(generate_master_key())
DONORS = [IDENTITIES.seal("donor", f"D-{n:04d}") for n in range(3)]
PATIENTS = [IDENTITIES.seal("patient", f"P-{n:04d}") for n in range(2)]


def stamp(day: int, minute: int) -> dict[str, str]:
    moment = f"2026-09-{day:02d}T{8 + minute // 60:02d}:{minute % 60:02d}:00+00:00"
    return {"_type_": "datetime_iso", "_data_": moment}


def fact_states(history: str) -> list[tuple[uuid.UUID, int, str, bytes]]:
    """(stream, version, topic, state bytes) of each stored event, in notification order.

    Another ``history`` gives other facts (another actor) with the same shape."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"bloodledger-test/{history}")
    protected: dict[str, object] = {
        "event_id": str(uuid.uuid5(namespace, "protected")),
        "cipher_check": "ab12",
    }
    events = [(uuid.uuid5(namespace, "ledger"), 1, "bloodledger:IdentitiesProtected", protected)]
    minute = 0
    for version, (topic, facility, day) in enumerate(STEPS, start=1):
        for n, din in enumerate(DINS):
            minute += 1
            state: dict[str, object] = {
                "event_id": str(uuid.uuid5(namespace, f"{din}/{version}")),
                "occurred_at": stamp(day, minute),
                "facility": facility,
                "actor": f"{history}-operator-{n % 2}",
                "din": din,
                "product_code": "E0791V00",
            }
            if topic.endswith("Collected"):
                state["donor_id"] = DONORS[n % len(DONORS)]
            if topic.endswith("Transfused"):
                state["patient_id"] = PATIENTS[n % len(PATIENTS)]
            state["timestamp"] = stamp(day, minute + 1)
            events.append((uuid.uuid5(namespace, din), version, topic, state))
    # A few more facts after the bundle's tree: a lookback opened on the first unit.
    for extra in range(LOG_SIZE - len(events)):
        minute += 1
        state = {
            "event_id": str(uuid.uuid5(namespace, f"lookback/{extra}")),
            "occurred_at": stamp(4, minute),
            "facility": CENTRE,
            "actor": f"{history}-lookback",
            "din": DINS[0],
            "timestamp": stamp(4, minute + 1),
        }
        events.append((uuid.uuid5(namespace, DINS[0]), len(STEPS) + 1 + extra, "x:Lookback", state))
    return [(s, v, t, orjson.dumps(state)) for s, v, t, state in events]


@dataclass
class Log:
    """A ledger's audit log: its leaves and the stored nodes (leaves and every 4th level)."""

    leaves: list[bytes] = field(default_factory=list)
    stored: dict[Node, bytes] = field(default_factory=dict)
    edge: TreeEdge = field(default_factory=TreeEdge)
    chains: Chains = field(default_factory=Chains)

    @classmethod
    def of(cls, events: Sequence[tuple[uuid.UUID, int, str, bytes]]) -> Log:
        log = cls()
        for stream, version, topic, state in events:
            links = log.chains.link(len(log.leaves), keys_of(orjson.loads(state)))
            log.append(Leaf(stream, version, topic, links, state))
        return log

    def append(self, leaf: Leaf) -> None:
        data = leaf.encoded()
        hashed = leaf_hash(data)
        self.stored[(0, len(self.leaves))] = hashed
        self.edge.append(hashed, lambda level, index, value: self._store(level, index, value))
        self.leaves.append(data)

    def _store(self, level: int, index: int, value: bytes) -> None:
        self.stored[(level, index)] = value

    def nodes(self) -> StridedNodes:
        return StridedNodes(lambda wanted: {n: self.stored[n] for n in wanted if n in self.stored})

    def root(self, size: int) -> bytes:
        return tree_root(self.nodes(), size)

    def checkpoint(self, size: int, key: SigningKey = LEDGER_KEY) -> bytes:
        """The signed checkpoint at ``size``, cosigned by the witness."""
        text = Checkpoint(ORIGIN, size, self.root(size)).text()
        return Note(text).signed(key, WITNESS_KEY, timestamp=1_788_000_000 + size).encoded()

    def heads(self, size: int) -> dict[str, int]:
        """Each chain's newest fact among the first ``size`` leaves."""
        heads: dict[str, int] = {}
        for index, data in enumerate(self.leaves[:size]):
            for key, _ in Leaf.parse(data).links:
                heads[key] = index
        return heads

    def chain(self, key: str, head: int | None) -> list[int]:
        """The indexes of a chain, newest first, walked through the leaves' links."""
        indexes = []
        while head is not None:
            indexes.append(head)
            head = Leaf.parse(self.leaves[head]).previous(key)
        return indexes


@dataclass(frozen=True)
class Criteria:
    kind: str
    value: str
    start: date | None = None
    end: date | None = None

    def line(self) -> str:
        start = "-" if self.start is None else f"{self.start.isoformat()}T00:00:00+00:00"
        end = "-" if self.end is None else f"{self.end.isoformat()}T23:59:59+00:00"
        return f"criteria {self.kind} {self.value} from {start} to {end}"

    def chains(self, log: Log, heads: dict[str, int]) -> list[str]:
        """The chains the criteria need (docs/audit.md, "The selection statement")."""
        if self.kind == "din":
            return [din_key(self.value)]
        if self.kind == "facility":
            assert self.start is not None and self.end is not None
            days = (self.end - self.start).days + 1
            every = [self.start + timedelta(days=n) for n in range(days)]
            return [facility_day_key(self.value, day.isoformat()) for day in every]
        person = f"{self.kind}:{self.value}"
        dins = {
            key
            for index in log.chain(person, heads.get(person))
            for key, _ in Leaf.parse(log.leaves[index]).links
            if key.startswith("din:")
        }
        return sorted({person, *dins})


def export(log: Log, out: Path, criteria: Criteria, size: int = SIZE) -> None:
    """A bundle of the tree at ``size`` (docs/audit.md section 4), as the ledger writes it."""
    heads = log.heads(size)
    keys = sorted(criteria.chains(log, heads))
    included = sorted({i for key in keys for i in log.chain(key, heads.get(key))})
    checkpoint = log.checkpoint(size)
    root = log.root(size)
    selection = [
        "bloodledger/selection/v1",
        f"origin {ORIGIN}",
        f"size {size}",
        f"root {b64(root)}",
        criteria.line(),
        *(f"head {key} {heads.get(key, '-')}" for key in keys),
    ]
    for folder in ("entries", "proofs", "checkpoints", "consistency"):
        (out / folder).mkdir(parents=True)
    (out / "vkey").write_text(LEDGER_KEY.verifier.text() + "\n")
    (out / "checkpoint").write_bytes(checkpoint)
    text = ("\n".join(selection) + "\n").encode()
    (out / "selection").write_bytes(Note(text).signed(LEDGER_KEY).encoded())
    nodes = log.nodes()
    for index in included:
        (out / "entries" / str(index)).write_bytes(log.leaves[index])
        proof = TlogProof(index, tuple(inclusion_proof(nodes, index, size)), checkpoint)
        (out / "proofs" / f"{index}.tlog-proof").write_bytes(proof.encoded())
    for m in PUBLISHED:
        (out / "checkpoints" / str(m)).write_bytes(log.checkpoint(m))
        consistency = hash_lines(consistency_proof(nodes, m, size))
        (out / "consistency" / f"{m}-{size}").write_bytes(consistency)


@dataclass(frozen=True)
class World:
    log: Log
    fork: Log
    bundles: dict[str, Path]


TOKEN = token_of(DONORS[1])
BUNDLES = {
    "din": Criteria("din", DINS[2]),
    "donor": Criteria("donor", TOKEN),
    "patient": Criteria("patient", token_of(PATIENTS[0])),
    "facility": Criteria("facility", HOSPITAL, date(2026, 9, 2), date(2026, 9, 4)),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    log = Log.of(fact_states("real"))
    fork = Log.of(fact_states("real")[:FORK_AT] + fact_states("forged")[FORK_AT:])
    hashes = [leaf_hash(data) for data in log.leaves]
    assert log.root(SIZE) == root_of(hashes[:SIZE])  # the builder's own arithmetic
    assert log.edge.root() == root_of(hashes)
    assert fork.root(FORK_AT) == log.root(FORK_AT) and fork.root(25) != log.root(25)
    bundles = {}
    for name, criteria in BUNDLES.items():
        bundles[name] = tmp_path_factory.mktemp(f"bundle-{name}")
        export(log, bundles[name], criteria)
    return World(log, fork, bundles)


@pytest.fixture
def bundle(world: World, tmp_path: Path) -> Path:
    """A copy of the donor bundle (five chains) to tamper with."""
    copy = tmp_path / "bundle"
    shutil.copytree(world.bundles["donor"], copy)
    return copy


def ok_line(bundle: Path) -> str:
    entries = len(list((bundle / "entries").iterdir()))
    return f"OK: {entries} entries, {len(PUBLISHED)} consistency proofs, tree size {SIZE}"


def assert_rejected(result: subprocess.CompletedProcess[str], *files: str | Path) -> None:
    """Exit status 1, a failure line naming each of ``files``, and the summary."""
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 1, report
    lines = result.stdout.splitlines()
    assert lines and lines[-1].startswith("FAILED: "), report
    for file in files:
        assert any(line.startswith(f"FAIL {file}: ") for line in lines), report


def replace_once(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) >= 1, (path, old)
    path.write_bytes(data.replace(old, new, 1))


def other_hash(encoded: str) -> str:
    raw = bytearray(base64.b64decode(encoded))
    raw[0] ^= 0x01
    return b64(bytes(raw))


def din_chain(world: World, din: str) -> list[int]:
    key = din_key(din)
    return world.log.chain(key, world.log.heads(SIZE)[key])


# --- accepted -------------------------------------------------------------------------


def test_the_go_verifier_builds() -> None:
    assert bundlecheck_binary().is_file()


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_a_bundle_as_the_ledger_writes_it_verifies(world: World, name: str) -> None:
    result = run_bundlecheck(world.bundles[name])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [ok_line(world.bundles[name])]


def test_the_bundles_cover_the_chains_they_claim(world: World) -> None:
    """The builder above is worth testing the verifier with: real multi-chain bundles."""
    donor = world.bundles["donor"]
    selection = (donor / "selection").read_text()
    assert selection.count("\nhead din:") == 3 and f"head donor:{TOKEN} " in selection
    facility = (world.bundles["facility"] / "selection").read_text()
    assert f"head facility:{HOSPITAL}:2026-09-02 -\n" in facility
    assert f"head facility:{HOSPITAL}:2026-09-03 " in facility


@pytest.mark.parametrize("m", [*PUBLISHED, SIZE])
def test_a_trusted_earlier_checkpoint_the_bundle_extends(
    world: World, tmp_path: Path, m: int
) -> None:
    trusted = tmp_path / f"trusted-{m}"
    trusted.write_bytes(world.log.checkpoint(m))
    other = tmp_path / "trusted-too"
    other.write_bytes(world.log.checkpoint(PUBLISHED[0]))
    result = run_bundlecheck(world.bundles["din"], trusted=[trusted, other])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [ok_line(world.bundles["din"])]


# --- rejected: entries and inclusion proofs ---------------------------------------------


@pytest.mark.parametrize("where", ["state", "link", "topic"])
def test_one_changed_byte_in_an_entry(world: World, bundle: Path, where: str) -> None:
    index = din_chain(world, DINS[1])[1]
    entry = bundle / "entries" / str(index)
    data = bytearray(entry.read_bytes())
    offset = {
        "state": data.rindex(b":00+00:00") + 1,
        "link": data.index(b"\nkey ") + 6,
        "topic": data.index(b"\ntopic ") + 8,
    }[where]
    data[offset] ^= 0x02
    entry.write_bytes(bytes(data))
    assert_rejected(run_bundlecheck(bundle), f"entries/{index}")


def test_a_changed_hash_in_an_inclusion_proof(world: World, bundle: Path) -> None:
    index = din_chain(world, DINS[1])[0]
    proof = bundle / "proofs" / f"{index}.tlog-proof"
    lines = proof.read_bytes().split(b"\n")
    # The header, the index, the leaf's sibling, then its parent's sibling.
    lines[3] = other_hash(lines[3].decode()).encode()
    proof.write_bytes(b"\n".join(lines))
    result = run_bundlecheck(bundle)
    assert_rejected(result, f"entries/{index}")
    assert f"proofs/{index}.tlog-proof" in result.stdout


def test_a_proof_of_another_entry(world: World, bundle: Path) -> None:
    first, second = din_chain(world, DINS[1])[:2]
    shutil.copy(
        bundle / "proofs" / f"{second}.tlog-proof", bundle / "proofs" / f"{first}.tlog-proof"
    )
    assert_rejected(run_bundlecheck(bundle), f"proofs/{first}.tlog-proof")


def test_an_entry_without_its_proof_and_a_proof_without_its_entry(
    world: World, bundle: Path
) -> None:
    index = din_chain(world, DINS[4])[0]
    # Leaf 0 (the ledger's record that identifiers are protected) is in no chain.
    assert not (bundle / "entries" / "0").exists()
    (bundle / "proofs" / f"{index}.tlog-proof").rename(bundle / "proofs" / "0.tlog-proof")
    assert_rejected(run_bundlecheck(bundle), f"entries/{index}", "proofs/0.tlog-proof")


def test_a_proof_against_an_edited_checkpoint(world: World, bundle: Path) -> None:
    index = din_chain(world, DINS[1])[0]
    replace_once(bundle / "proofs" / f"{index}.tlog-proof", f"\n{SIZE}\n".encode(), b"\n42\n")
    assert_rejected(run_bundlecheck(bundle), f"proofs/{index}.tlog-proof")


def test_a_proof_that_carries_another_checkpoint(world: World, bundle: Path) -> None:
    """A proof against the bundle's tree, but carrying an earlier (validly signed) checkpoint."""
    index = din_chain(world, DINS[1])[0]
    hashes = tuple(inclusion_proof(world.log.nodes(), index, SIZE))
    proof = TlogProof(index, hashes, world.log.checkpoint(PUBLISHED[-1]))
    (bundle / "proofs" / f"{index}.tlog-proof").write_bytes(proof.encoded())
    result = run_bundlecheck(bundle)
    assert_rejected(result, f"proofs/{index}.tlog-proof")
    assert "is not the bundle's checkpoint" in result.stdout


# --- rejected: the checkpoint ---------------------------------------------------------


@pytest.mark.parametrize("edit", ["size", "root"])
def test_an_edited_checkpoint_with_its_signature_kept(
    world: World, bundle: Path, edit: str
) -> None:
    root = b64(world.log.root(SIZE))
    old, new = {
        "size": (f"\n{SIZE}\n", f"\n{SIZE + 1}\n"),
        "root": (f"\n{root}\n", f"\n{other_hash(root)}\n"),
    }[edit]
    replace_once(bundle / "checkpoint", old.encode(), new.encode())
    assert_rejected(run_bundlecheck(bundle), "checkpoint")


def test_a_checkpoint_signed_by_another_key(world: World, bundle: Path) -> None:
    impostor = SigningKey.generate(ORIGIN)  # the same name, another key
    (bundle / "checkpoint").write_bytes(world.log.checkpoint(SIZE, impostor))
    result = run_bundlecheck(bundle)
    assert_rejected(result, "checkpoint")
    assert "not signed by the bundle's key" in result.stdout


def test_a_checkpoint_of_another_origin(world: World, bundle: Path) -> None:
    stranger = SigningKey.generate("bloodledger/another-centre")
    text = Checkpoint(ORIGIN, SIZE, world.log.root(SIZE)).text()
    (bundle / "vkey").write_text(stranger.verifier.text() + "\n")
    (bundle / "checkpoint").write_bytes(Note(text).signed(stranger).encoded())
    assert_rejected(run_bundlecheck(bundle), "checkpoint")


def test_a_selection_of_another_tree(world: World, bundle: Path) -> None:
    forged_selection(bundle, f"size {SIZE}\n", "size 33\n")
    assert_rejected(run_bundlecheck(bundle), "selection")


# --- rejected: chains -----------------------------------------------------------------


def test_a_removed_entry_a_chain_needs(world: World, bundle: Path) -> None:
    chain = din_chain(world, DINS[1])
    index = chain[2]  # from the middle: every other entry and proof still verifies
    (bundle / "entries" / str(index)).unlink()
    (bundle / "proofs" / f"{index}.tlog-proof").unlink()
    result = run_bundlecheck(bundle)
    assert_rejected(result, f"entries/{index}")
    assert f"chain {din_key(DINS[1])} is broken" in result.stdout
    assert result.stdout.count("FAIL ") == 1, result.stdout


def forged_selection(bundle: Path, old: str, new: str) -> None:
    """The bundle's selection statement with a line changed, signed by the ledger's key."""
    note = (bundle / "selection").read_bytes()
    text = note[: note.index(b"\n\n") + 1]
    assert old.encode() in text
    forged = text.replace(old.encode(), new.encode())
    (bundle / "selection").write_bytes(Note(forged).signed(LEDGER_KEY).encoded())


def test_a_head_that_is_not_in_its_chain(world: World, bundle: Path) -> None:
    """The head of one DIN's chain names a fact of another DIN that the bundle holds."""
    key, head = din_key(DINS[1]), din_chain(world, DINS[1])[0]
    other = din_chain(world, DINS[4])[1]
    forged_selection(bundle, f"head {key} {head}\n", f"head {key} {other}\n")
    result = run_bundlecheck(bundle)
    assert_rejected(result, f"entries/{other}")
    assert "not in that chain" in result.stdout


def test_a_selection_missing_a_chain_the_criteria_need(world: World, bundle: Path) -> None:
    head = din_chain(world, DINS[1])[0]
    forged_selection(bundle, f"head {din_key(DINS[1])} {head}\n", "")
    result = run_bundlecheck(bundle)
    assert_rejected(result, "selection")
    assert din_key(DINS[1]) in result.stdout


# --- rejected: consistency and trusted checkpoints --------------------------------------


@pytest.mark.parametrize("what", ["checkpoint and proof", "proof only"])
def test_a_consistency_proof_from_a_forked_history(world: World, bundle: Path, what: str) -> None:
    m = 25
    forked = hash_lines(consistency_proof(world.fork.nodes(), m, SIZE))
    assert forked != (bundle / "consistency" / f"{m}-{SIZE}").read_bytes()
    (bundle / "consistency" / f"{m}-{SIZE}").write_bytes(forked)
    if what == "checkpoint and proof":
        (bundle / "checkpoints" / str(m)).write_bytes(world.fork.checkpoint(m))
    assert_rejected(run_bundlecheck(bundle), f"consistency/{m}-{SIZE}")


@pytest.mark.parametrize("history", ["same", "forked"])
def test_an_earlier_checkpoint_of_the_same_size(world: World, bundle: Path, history: str) -> None:
    """Published again before the log grew: an empty proof, and the roots must be equal."""
    log = world.log if history == "same" else world.fork
    (bundle / "checkpoints" / str(SIZE)).write_bytes(log.checkpoint(SIZE))
    (bundle / "consistency" / f"{SIZE}-{SIZE}").write_bytes(b"")
    result = run_bundlecheck(bundle)
    if history == "same":
        assert result.returncode == 0, result.stdout
        assert f"{len(PUBLISHED) + 1} consistency proofs" in result.stdout
    else:
        assert_rejected(result, f"consistency/{SIZE}-{SIZE}")


def test_an_earlier_checkpoint_without_its_consistency_proof(bundle: Path) -> None:
    (bundle / "consistency" / f"16-{SIZE}").unlink()
    assert_rejected(run_bundlecheck(bundle), "checkpoints/16")


@pytest.mark.parametrize("m", [8, 25, SIZE])
def test_a_trusted_checkpoint_of_a_different_history(
    world: World, bundle: Path, tmp_path: Path, m: int
) -> None:
    trusted = tmp_path / f"trusted-{m}"
    trusted.write_bytes(world.fork.checkpoint(m) if m > FORK_AT else forked_early(world, m))
    assert_rejected(run_bundlecheck(bundle, trusted=[trusted]), trusted)


def forked_early(world: World, m: int) -> bytes:
    """A checkpoint at ``m`` (within the shared prefix) of a history that differs there."""
    log = Log.of(fact_states("forged"))
    assert log.root(m) != world.log.root(m)
    return log.checkpoint(m)


def test_a_trusted_checkpoint_newer_than_the_bundle(
    world: World, bundle: Path, tmp_path: Path
) -> None:
    trusted = tmp_path / "trusted-newer"
    trusted.write_bytes(world.log.checkpoint(LOG_SIZE))
    result = run_bundlecheck(bundle, trusted=[trusted])
    assert_rejected(result, trusted)
    assert f"larger than the bundle's {SIZE}" in result.stdout


def test_a_trusted_checkpoint_signed_by_another_key(
    world: World, bundle: Path, tmp_path: Path
) -> None:
    trusted = tmp_path / "trusted-other-key"
    trusted.write_bytes(world.log.checkpoint(25, SigningKey.generate(ORIGIN)))
    assert_rejected(run_bundlecheck(bundle, trusted=[trusted]), trusted)


# --- usage ----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["a", "b"], ["-nonsense", "x"], ["/no/such/bundle"]])
def test_usage_errors(args: list[str]) -> None:
    result = subprocess.run(
        [str(bundlecheck_binary()), *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr
