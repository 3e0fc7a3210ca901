"""Resume state files: round trip, healing of broken files, and the per-upload lock."""

from __future__ import annotations

import json
from pathlib import Path

from weighbridge.client.resume import ResumeStore, UploadState, state_key


def test_state_round_trips_as_versioned_json(tmp_path: Path) -> None:
    store = ResumeStore(tmp_path)
    store.save("k", UploadState(idempotency_key="idem", session_id="s-1"))
    assert json.loads((tmp_path / "uploads" / "k.json").read_text()) == {
        "version": 1,
        "idempotencyKey": "idem",
        "sessionId": "s-1",
    }
    assert store.load("k") == UploadState(idempotency_key="idem", session_id="s-1")
    assert not [p for p in (tmp_path / "uploads").iterdir() if p.name.startswith(".tmp-")]
    store.delete("k")
    assert store.load("k") is None


def test_broken_or_foreign_state_is_deleted_and_ignored(tmp_path: Path) -> None:
    store = ResumeStore(tmp_path)
    (tmp_path / "uploads").mkdir()
    for key, text in [("a", "{nope"), ("b", '{"version": 2}'), ("c", "[1]"), ("d", "{}")]:
        (tmp_path / "uploads" / f"{key}.json").write_text(text)
        assert store.load(key) is None
        assert not (tmp_path / "uploads" / f"{key}.json").exists()


def test_an_unwritable_state_dir_does_not_fail_the_upload(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = ResumeStore(tmp_path / "file")  # its "uploads" folder cannot be created
    store.save("k", UploadState(idempotency_key="i"))
    assert store.load("k") is None
    with store.claim("k") as owned:
        assert owned is False


def test_only_one_claim_at_a_time(tmp_path: Path) -> None:
    store = ResumeStore(tmp_path)
    with store.claim("k") as first:
        with ResumeStore(tmp_path).claim("k") as second:
            assert (first, second) == (True, False)
        with store.claim("other") as third:
            assert third is True
    with store.claim("k") as again:
        assert again is True


def test_state_keys_are_stable_and_distinct() -> None:
    assert state_key(a=1, b="x") == state_key(b="x", a=1)
    assert state_key(a=1) != state_key(a=2)


def test_the_last_upload_of_an_input_is_indexed_and_healed(tmp_path: Path) -> None:
    store = ResumeStore(tmp_path)
    assert store.last_upload_of("in") is None
    store.set_last_upload("in", "k1")
    assert json.loads((tmp_path / "uploads" / "inputs" / "in.json").read_text()) == {
        "version": 1,
        "uploadKey": "k1",
    }
    assert store.last_upload_of("in") == "k1"
    store.set_last_upload("in", None)
    assert store.last_upload_of("in") is None
    for text in ("{nope", '{"version": 1}', '{"version": 1, "uploadKey": 3}'):
        (tmp_path / "uploads" / "inputs" / "in.json").write_text(text)
        assert store.last_upload_of("in") is None
        assert not (tmp_path / "uploads" / "inputs" / "in.json").exists()
