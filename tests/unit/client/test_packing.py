"""The virtual tar of a folder is exactly the tar it claims to be, served by any range."""

from __future__ import annotations

import hashlib
import io
import os
import random
import tarfile
from pathlib import Path

import pytest

from weighbridge.client.errors import LocalInputError
from weighbridge.client.packing import (
    PIECE_SIZE,
    FileSource,
    FolderTar,
    file_extension,
    open_source,
)


def _read_all(source: FolderTar | FileSource, offset: int = 0, length: int | None = None) -> bytes:
    if length is None:
        length = source.size - offset
    pieces = list(source.iter_range(offset, length))
    assert all(0 < len(p) <= PIECE_SIZE for p in pieces)
    return b"".join(pieces)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "tiny-model"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty-dir").mkdir()
    (root / "config.json").write_text('{"architectures": ["BertModel"]}')
    rng = random.Random(7)
    (root / "model.safetensors").write_bytes(rng.randbytes(3 * PIECE_SIZE + 123))
    (root / "exactly-one-block").write_bytes(b"x" * 512)
    (root / "empty.txt").write_bytes(b"")
    (root / "sub" / "b.bin").write_bytes(rng.randbytes(5000))
    (root / "sub" / "deeper" / ("long-name-" * 12 + ".json")).write_text("{}")
    (root / "sub" / "naïve-ünïcode.txt").write_text("ok")
    return root


def _tarfile_reference(root: Path) -> bytes:
    """The same members written by tarfile itself, in the order FolderTar promises."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:

        def add(path: Path, arcname: str) -> None:
            info = tarfile.TarInfo(arcname)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
                for child in sorted(os.listdir(path)):
                    add(path / child, f"{arcname}/{child}")
            else:
                info.mode, info.size = 0o644, path.stat().st_size
                with open(path, "rb") as fh:
                    tf.addfile(info, fh)

        add(root, root.name)
    return buf.getvalue()


def test_bytes_equal_what_tarfile_writes(model_dir: Path) -> None:
    tar = FolderTar(model_dir)
    data = _read_all(tar)
    assert len(data) == tar.size
    assert data == _tarfile_reference(model_dir)
    assert tar.file_name == "tiny-model.tar"
    assert tar.file_extension == "tar"


def test_tarfile_reads_it_back(model_dir: Path) -> None:
    data = _read_all(FolderTar(model_dir))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        members = tf.getmembers()
        names = [m.name for m in members]
        assert names[0] == "tiny-model"
        assert all(n == "tiny-model" or n.startswith("tiny-model/") for n in names)
        assert names == sorted(names, key=lambda n: n.split("/"))  # depth first, sorted
        files = [m for m in members if m.isfile()]
        for member in files:
            extracted = tf.extractfile(member)
            assert extracted is not None
            on_disk = (model_dir.parent / member.name).read_bytes()
            assert extracted.read() == on_disk
            assert (member.mode, member.mtime, member.uid, member.gid) == (0o644, 0, 0, 0)
        on_disk_files = {
            str(p.relative_to(model_dir.parent)) for p in model_dir.rglob("*") if p.is_file()
        }
        assert {m.name for m in files} == on_disk_files
        assert {m.name for m in members if m.isdir()} >= {"tiny-model/empty-dir"}


def test_random_ranges_match_the_full_stream(model_dir: Path) -> None:
    tar = FolderTar(model_dir)
    full = _read_all(tar)
    rng = random.Random(1)
    for _ in range(300):
        offset = rng.randrange(tar.size)
        length = rng.randrange(tar.size - offset + 1)
        assert _read_all(tar, offset, length) == full[offset : offset + length]
    assert _read_all(tar, tar.size, 0) == b""


def test_deterministic_across_runs_and_mtimes(model_dir: Path) -> None:
    first = hashlib.sha256(_read_all(FolderTar(model_dir))).hexdigest()
    os.utime(model_dir / "config.json", (1, 1))
    (model_dir / "config.json").chmod(0o600)
    assert hashlib.sha256(_read_all(FolderTar(model_dir))).hexdigest() == first


def test_links_to_files_are_followed_as_regular_files(tmp_path: Path) -> None:
    """A Hugging Face cache snapshot: every file is a symlink into ../../blobs."""
    blobs = tmp_path / "models--org--m" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "aaa").write_text('{"architectures": ["BertModel"]}')
    (blobs / "bbb").write_bytes(random.Random(2).randbytes(PIECE_SIZE + 77))
    snapshot = tmp_path / "models--org--m" / "snapshots" / "rev1"
    (snapshot / "sub").mkdir(parents=True)
    (snapshot / "config.json").symlink_to("../../blobs/aaa")
    (snapshot / "sub" / "model.safetensors").symlink_to("../../../blobs/bbb")
    (snapshot / "chained.json").symlink_to(snapshot / "config.json")  # a link to a link

    tar = FolderTar(snapshot)
    data = _read_all(tar)
    resolved = tmp_path / "resolved" / "rev1"
    (resolved / "sub").mkdir(parents=True)
    (resolved / "config.json").write_bytes((blobs / "aaa").read_bytes())
    (resolved / "chained.json").write_bytes((blobs / "aaa").read_bytes())
    (resolved / "sub" / "model.safetensors").write_bytes((blobs / "bbb").read_bytes())
    assert data == _tarfile_reference(resolved)  # as if the links were real files
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        member = tf.getmember("rev1/sub/model.safetensors")
        assert member.isreg() and member.size == PIECE_SIZE + 77
        assert not any(m.issym() or m.islnk() for m in tf.getmembers())
    assert hashlib.sha256(_read_all(FolderTar(snapshot))).digest() == hashlib.sha256(data).digest()
    assert tar.member_files == [
        "rev1/chained.json",
        "rev1/config.json",
        "rev1/sub/model.safetensors",
    ]


def test_links_to_folders_are_refused(model_dir: Path) -> None:
    (model_dir / "sub" / "loop").symlink_to(model_dir)
    with pytest.raises(LocalInputError, match="symbolic link to a folder") as err:
        FolderTar(model_dir)
    assert err.value.code == "SYMLINK_REFUSED"


@pytest.mark.parametrize("target", ["missing.bin", "self-loop"])
def test_dangling_links_are_refused(model_dir: Path, target: str) -> None:
    (model_dir / "self-loop").symlink_to("self-loop")
    if target != "self-loop":
        (model_dir / "self-loop").unlink()
        (model_dir / "broken").symlink_to(target)
    with pytest.raises(
        LocalInputError, match=f"symbolic link to '{target}', which does not"
    ) as err:
        FolderTar(model_dir)
    assert err.value.code == "SYMLINK_REFUSED"


def test_a_folder_without_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / "only" / "folders").mkdir(parents=True)
    with pytest.raises(LocalInputError, match="holds no files") as err:
        open_source(tmp_path / "empty")
    assert err.value.code == "EMPTY_FOLDER"
    (tmp_path / "empty" / "only" / "weights.bin").write_bytes(b"")
    assert FolderTar(tmp_path / "empty").member_files == []  # an empty file is still a file


def test_a_file_that_changes_size_is_noticed(model_dir: Path) -> None:
    tar = FolderTar(model_dir)
    (model_dir / "model.safetensors").write_bytes(b"short")
    with pytest.raises(LocalInputError, match="changed size"):
        _read_all(tar)


def test_ranges_outside_the_source_are_refused(model_dir: Path) -> None:
    tar = FolderTar(model_dir)
    with pytest.raises(ValueError):
        list(tar.iter_range(tar.size - 1, 2))


def test_file_source_serves_ranges(tmp_path: Path) -> None:
    path = tmp_path / "Weights.SafeTensors"
    data = random.Random(3).randbytes(2 * PIECE_SIZE + 5)
    path.write_bytes(data)
    source = open_source(path)
    assert isinstance(source, FileSource)
    assert (source.file_name, source.file_extension, source.size) == (
        path.name,
        "safetensors",
        len(data),
    )
    assert _read_all(source) == data
    assert (
        _read_all(source, PIECE_SIZE - 3, PIECE_SIZE + 7)
        == data[PIECE_SIZE - 3 : 2 * PIECE_SIZE + 4]
    )


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("m.tar", "tar"),
        ("m.TAR.GZ", "tar.gz"),
        ("m.tgz", "tgz"),
        ("m.zip", "zip"),
        ("m.gguf", "gguf"),
        ("m.safetensors", "safetensors"),
        ("m.bin", None),
        ("m.gz", None),
    ],
)
def test_file_extension(name: str, ext: str | None) -> None:
    assert file_extension(name) == ext


def test_unsupported_and_empty_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "empty.gguf").write_bytes(b"")
    with pytest.raises(LocalInputError, match="not a model folder"):
        open_source(tmp_path / "model.bin")
    with pytest.raises(LocalInputError, match="empty"):
        open_source(tmp_path / "empty.gguf")
    with pytest.raises(LocalInputError, match="does not exist"):
        open_source(tmp_path / "nope")


def test_adapter_detection(tmp_path: Path) -> None:
    folder = tmp_path / "lora"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    assert FolderTar(folder).looks_like_adapter()
    archive = tmp_path / "lora.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(folder, arcname="lora")
    assert FileSource(archive).looks_like_adapter()
    (folder / "adapter_config.json").unlink()
    (folder / "adapter_model.safetensors").write_text("{}")
    assert not FolderTar(folder).looks_like_adapter()
