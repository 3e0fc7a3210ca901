"""Member names → safe relative paths; the model tree refuses clashes; atomic writes."""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePosixPath

import pytest

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.member_names import safe_relative_path
from weighbridge.pipeline.staging import ModelTree


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("config.json", "config.json"),
        ("model/config.json", "model/config.json"),
        ("./model/./config.json", "model/config.json"),
        ("a/../b.json", "b.json"),
        ("dir/", "dir"),
        ("ünïcode/名前.json", "ünïcode/名前.json"),
    ],
)
def test_safe_names_normalise(name: str, expected: str) -> None:
    assert safe_relative_path(name) == PurePosixPath(expected)


@pytest.mark.parametrize("name", [".", "./", "a/.."])
def test_root_names_mean_nothing_to_write(name: str) -> None:
    assert safe_relative_path(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil", "outside"),
        ("a/../../evil", "outside"),
        ("/etc/passwd", "absolute"),
        ("C:evil", "drive letter"),
        ("c:/evil", "drive letter"),
        ("..\\evil", "backslash"),
        ("a\nb", "control"),
        ("", "empty"),
        ("x" * 256, "longer than 255"),
        ("a/" * 2100, "longer than 1024"),
        ("d/" * 2000 + "f", "longer than 1024"),
        ("d/" * 64 + "f", "65 levels deep, more than the 64 allowed"),
        ("x" * 1025, "longer than 1024"),
        ("bad\udcff", "UTF-8"),
    ],
)
def test_unsafe_names_are_refused_by_name(name: str, problem: str) -> None:
    with pytest.raises(PipelineError) as caught:
        safe_relative_path(name)
    assert caught.value.code == ErrorCode.UNSAFE_ARCHIVE
    assert problem in caught.value.msg
    assert repr(name)[:40] in caught.value.msg or name == ""
    assert len(caught.value.msg) < 600  # the name is cut short, the advice is kept


def test_names_at_the_limits_are_accepted() -> None:
    deep = "d/" * 63 + "f"
    assert safe_relative_path(deep) == PurePosixPath(deep)
    long = "/".join(["x" * 200] * 5) + "/" + "y" * 19  # 1024 bytes in 6 levels
    assert len(long.encode()) == 1024
    assert safe_relative_path(long) == PurePosixPath(long)


def write(tree: ModelTree, name: str, data: bytes = b"x") -> None:
    rel = safe_relative_path(name)
    assert rel is not None
    with tree.open_file(rel, name) as out:
        out.write(data)
        sha = out.commit()
    assert sha is not None
    tree.record(rel, out.size, sha)


def test_duplicate_file_is_refused(tmp_path: Path) -> None:
    tree = ModelTree(tmp_path)
    write(tree, "a.json")
    with pytest.raises(PipelineError, match="appears twice") as caught:
        write(tree, "./a.json")
    assert caught.value.code == ErrorCode.UNSAFE_ARCHIVE


def test_file_where_folder_is_needed_is_refused(tmp_path: Path) -> None:
    tree = ModelTree(tmp_path)
    write(tree, "a")
    with pytest.raises(PipelineError, match="needs 'a' to be a folder"):
        write(tree, "a/b.json")


def test_folder_where_file_is_needed_is_refused(tmp_path: Path) -> None:
    tree = ModelTree(tmp_path)
    write(tree, "a/b.json")
    with pytest.raises(PipelineError, match="uses that name as a folder"):
        write(tree, "a")


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    tree = ModelTree(tmp_path)
    rel = PurePosixPath("w.safetensors")
    with pytest.raises(RuntimeError), tree.open_file(rel, "w.safetensors") as out:
        out.write(b"partial")
        raise RuntimeError("reader failed")
    assert list(tree.scratch_dir.iterdir()) == []
    assert not (tree.model_dir / "w.safetensors").exists()


def test_strip_single_top_folder(tmp_path: Path) -> None:
    tree = ModelTree(tmp_path)
    write(tree, "top/config.json", b"{}")
    write(tree, "top/sub/x.txt")
    assert tree.strip_single_top_folder() == "top"
    assert [f.path for f in tree.files] == ["config.json", "sub/x.txt"]
    assert (tree.model_dir / "sub" / "x.txt").read_bytes() == b"x"
    assert tree.strip_single_top_folder() is None  # config.json + sub: two entries


def test_no_strip_for_a_single_top_file(tmp_path: Path) -> None:
    tree = ModelTree(tmp_path)
    write(tree, "model.safetensors")
    assert tree.strip_single_top_folder() is None
    assert [f.path for f in tree.files] == ["model.safetensors"]


@pytest.mark.parametrize("rel", ["../x/evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_tree_refuses_unsafe_paths_that_skip_the_name_check(tmp_path: Path, rel: str) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    tree = ModelTree(staging)
    with pytest.raises(PipelineError, match="outside the model folder"):
        tree.open_file(PurePosixPath(rel), rel)
    with pytest.raises(PipelineError, match="outside the model folder"):
        tree.add_dir(PurePosixPath(rel), rel)
    assert {p.name for p in tmp_path.iterdir()} == {"staging"}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("model.safetensors", "Model.safetensors"),
        ("a/config.json", "A/other.json"),  # folders that would merge
        ("caf\u00e9.txt", "cafe\u0301.txt"),  # one name in two Unicode forms
    ],
)
def test_names_differing_only_by_case_are_refused(tmp_path: Path, first: str, second: str) -> None:
    tree = ModelTree(tmp_path)
    write(tree, first)
    with pytest.raises(PipelineError, match="only by letter case") as caught:
        write(tree, second)
    assert caught.value.code == ErrorCode.UNSAFE_ARCHIVE
    assert repr(second) in caught.value.msg


def test_the_same_folder_twice_is_fine(tmp_path: Path) -> None:
    tree = ModelTree(tmp_path)
    write(tree, "a/b/one.json")
    tree.add_dir(PurePosixPath("a/b"), "a/b/")
    write(tree, "a/b/two.json")
    assert [f.path for f in tree.files] == ["a/b/one.json", "a/b/two.json"]


def test_case_rule_holds_after_stripping_the_top_folder(tmp_path: Path) -> None:
    tree = ModelTree(tmp_path)
    write(tree, "top/config.json")
    assert tree.strip_single_top_folder() == "top"
    with pytest.raises(PipelineError, match="only by letter case"):
        write(tree, "Config.json")


def _failing(error: int) -> object:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(error, os.strerror(error))

    return fail


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errno.ENAMETOOLONG, ErrorCode.UNSAFE_ARCHIVE),
        (errno.EILSEQ, ErrorCode.UNSAFE_ARCHIVE),
        (errno.ENOSPC, ErrorCode.OUT_OF_STORAGE),
        (errno.EDQUOT, ErrorCode.OUT_OF_STORAGE),
        (errno.EIO, ErrorCode.INTERNAL),
    ],
)
@pytest.mark.parametrize("where", ["mkdir", "replace"])
def test_os_errors_while_placing_a_member_are_translated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, code: ErrorCode, where: str
) -> None:
    tree = ModelTree(tmp_path)
    if where == "mkdir":
        monkeypatch.setattr(Path, "mkdir", _failing(error))
    else:
        monkeypatch.setattr(os, "replace", _failing(error))
    with pytest.raises(PipelineError) as caught:
        write(tree, "sub/weights.bin")
    assert caught.value.code == code
    assert "'sub/weights.bin'" in caught.value.msg
    assert os.strerror(error) in caught.value.msg or code == ErrorCode.OUT_OF_STORAGE
    assert list(tree.scratch_dir.iterdir()) == []
