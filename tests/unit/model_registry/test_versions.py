"""Lineage records: the fields added for module 22, and versions published before them."""

from model_registry import Lineage

COMMIT = "af6a2a93fe933acdb2a12e0a02bbcdfdf5db16c9"


def test_lineage_from_before_the_dirty_flag_reads_the_old_suffix() -> None:
    dirty = Lineage.model_validate({"git_revision": f"{COMMIT}-dirty"})
    assert dirty.git_revision == COMMIT
    assert dirty.has_uncommitted_changes is True
    clean = Lineage.model_validate({"git_revision": COMMIT})
    assert clean.has_uncommitted_changes is False


def test_lineage_from_before_the_new_fields_loads_them_as_unknown() -> None:
    old = Lineage.model_validate({"dataset_sha256": {"iris": "ab" * 32}, "profile": "smoke"})
    assert old.git_revision is None
    assert old.has_uncommitted_changes is None
    assert old.parent_version is None


def test_lineage_keeps_an_explicit_flag_and_parent_through_a_round_trip() -> None:
    lineage = Lineage(git_revision=COMMIT, has_uncommitted_changes=True, parent_version=3)
    stored = lineage.model_dump(mode="json")
    assert stored["has_uncommitted_changes"] is True
    assert stored["parent_version"] == 3
    assert Lineage.model_validate(stored) == lineage
