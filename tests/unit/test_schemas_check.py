"""``bloodledger schemas check``: proposed ``schemas/`` directories, judged by Avro's rules
against the ids the manifest already has, and the command's exit statuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ledger.adapters.avro_catalogue import SchemaCatalogue
from ledger.entrypoints.cli import main
from ledger.entrypoints.schemas import Verdict, check
from tests.support.proposals import (
    NEW_ID,
    SCHEMAS,
    add_granulocytes,
    add_optional_site,
    copy_of_schemas,
    drop_to_facility,
    edit_json,
    proposal,
    register,
    volume_as_string,
)


def verdicts(proposed: Path) -> dict[int, Verdict]:
    return {v.schema_id: v for v in check(SchemaCatalogue(SCHEMAS), SchemaCatalogue(proposed))}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(["schemas", "check", *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_the_repositorys_schemas_pass_against_themselves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What CI runs: the whole history (ids 1, 2, 4 and the notice's 3) keeps the rules;
    the event types each version added are notes for the older readers."""
    status, out = run(capsys, str(SCHEMAS), "--against", str(SCHEMAS))
    assert status == 0, out
    found = verdicts(SCHEMAS)
    assert sorted(found) == [1, 2, 3, 4]
    assert {v.status for v in found.values()} == {"kept"}
    assert found[4].reads == [1, 2] and found[4].read_by == [1, 2]
    assert any("NoticeAcknowledged" in note for note in found[4].notes)
    assert "compatible" in out.splitlines()[-1]


def test_an_added_optional_field_is_compatible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = proposal(tmp_path, {"bloodledger.Source.avsc": add_optional_site})
    new = verdicts(proposed)[NEW_ID]
    assert (new.status, new.problems, new.notes) == ("new", [], [])
    assert new.reads == new.read_by == [1, 2, 4]
    status, out = run(capsys, str(proposed), "--against", str(SCHEMAS))
    assert status == 0, out
    assert f"id {NEW_ID}  v4/bloodledger.Event.avsc  new" in out


def test_a_removed_field_without_default_breaks_older_readers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = proposal(tmp_path, {"bloodledger.UnitIssued.avsc": drop_to_facility})
    new = verdicts(proposed)[NEW_ID]
    assert new.reads == [1, 2, 4] and new.read_by == []  # backward fine, forward broken
    assert len(new.problems) == 3
    assert all("Event.payload.UnitIssued.to_facility" in p for p in new.problems)
    assert all("READER_FIELD_MISSING_DEFAULT_VALUE" in p for p in new.problems)
    status, out = run(capsys, str(proposed))  # against the ledger's schemas by default
    assert status == 1
    assert out.splitlines()[-1].startswith("INCOMPATIBLE: 3 problem(s)")


def test_a_changed_type_breaks_both_ways(tmp_path: Path) -> None:
    proposed = proposal(tmp_path, {"bloodledger.DonationCollected.avsc": volume_as_string})
    new = verdicts(proposed)[NEW_ID]
    assert new.reads == [] and new.read_by == []
    assert len(new.problems) == 6  # each of ids 1, 2, 4 read with it, and it with each
    assert all("DonationCollected.volume_ml" in p and "TYPE_MISMATCH" in p for p in new.problems)


def test_an_added_enum_symbol_is_allowed_with_a_note(tmp_path: Path) -> None:
    """Avro: a writer's symbol the reader lacks reads as the reader's default symbol, and
    without one it cannot be read. The contract's enums have no default, so readers of
    the older ids dead-letter a message using the new symbol (BAD_ENUM): allowed, noted."""
    proposed = proposal(tmp_path, {"bloodledger.Component.avsc": add_granulocytes})
    new = verdicts(proposed)[NEW_ID]
    assert new.problems == []
    assert new.reads == new.read_by == [1, 2, 4]
    assert len(new.notes) == 3
    assert all("GRANULOCYTES" in n and "MISSING_ENUM_SYMBOLS" in n for n in new.notes)


def test_a_reassigned_id_breaks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Id 2 pointed at another envelope (v3's): messages written with id 2 would be read
    with a schema they were not written with."""
    proposed = copy_of_schemas(tmp_path)
    register(proposed, 2, "v3/bloodledger.Event.avsc")
    reassigned = verdicts(proposed)[2]
    assert reassigned.status == "changed"
    assert "another schema than the one registered under it" in reassigned.problems[0]
    status, out = run(capsys, str(proposed), "--against", str(SCHEMAS))
    assert status == 1 and "id 2  v3/bloodledger.Event.avsc  changed" in out


def test_an_edited_registered_file_breaks_and_a_changed_doc_does_not(tmp_path: Path) -> None:
    proposed = copy_of_schemas(tmp_path)
    edit_json(proposed / "v1" / "bloodledger.Source.avsc", lambda s: s.update(doc="Reworded."))
    assert verdicts(proposed)[1].status == "kept"
    edit_json(proposed / "v1" / "bloodledger.UnitReturned.avsc", lambda r: r["fields"].clear())
    assert verdicts(proposed)[1].status == "changed"


def test_a_removed_id_breaks(tmp_path: Path) -> None:
    proposed = copy_of_schemas(tmp_path)
    edit_json(proposed / "manifest.json", lambda m: m["schemas"].pop("1"))
    gone = verdicts(proposed)[1]
    assert gone.status == "removed" and "is gone" in gone.problems[0]


def test_a_directory_that_cannot_be_read_is_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(capsys, str(tmp_path / "nowhere"))
    assert status == 2 and len(out.strip().splitlines()) == 1
    assert out.startswith("bloodledger schemas check: ")
    broken = copy_of_schemas(tmp_path)
    (broken / "v3" / "bloodledger.ABO.avsc").write_text("{ not json")
    status, out = run(capsys, str(broken))
    assert status == 2 and len(out.strip().splitlines()) == 1
    shutil.rmtree(broken)
    broken = copy_of_schemas(tmp_path)
    register(broken, 3, "v1/bloodledger.Event.avsc")  # the notice's id
    status, out = run(capsys, str(broken))
    assert status == 2 and "both an event's and a notice's" in out
    assert out.startswith(f"bloodledger schemas check: {broken}: ")


def test_the_json_report_says_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proposed = proposal(tmp_path, {"bloodledger.UnitIssued.avsc": drop_to_facility})
    status, out = run(capsys, str(proposed), "--against", str(SCHEMAS), "--json")
    document = json.loads(out)
    assert status == 1 and document["compatible"] is False
    [new] = [s for s in document["schemas"] if s["schema_id"] == NEW_ID]
    assert new["status"] == "new" and len(new["problems"]) == 3
