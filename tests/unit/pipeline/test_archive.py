"""Safe unpacking through run_import: every hostile member is refused by name, limits
hold, damaged archives are CORRUPT_ARCHIVE, and nothing lands outside the staging folder."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import (
    Member,
    gzip_bomb_tar,
    members,
    tar_bytes,
    tar_with_pax_header,
    tiny_model,
    zip_bytes,
)
from tests.unit.pipeline.conftest import Importer, tree
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.result import UnpackLimits
from weighbridge.pipeline.zip_archive import declared_entries

MODEL = tiny_model()
OK = members(MODEL)

# (id, hostile member, text the refusal must contain)
HOSTILE: list[tuple[str, Member, str]] = [
    ("dotdot", Member("../evil.txt", b"x"), "'../evil.txt'"),
    ("deep-dotdot", Member("a/../../../../evil.txt", b"x"), "'a/../../../../evil.txt'"),
    ("absolute", Member("/tmp/weighbridge-evil.txt", b"x"), "absolute"),
    ("drive", Member("C:/evil.txt", b"x"), "drive letter"),
    ("backslash", Member("..\\..\\evil.txt", b"x"), "backslash"),
    ("symlink", Member("link", kind="symlink", target="/etc/passwd"), "symbolic link"),
    ("symlink-dir", Member("sub", kind="symlink", target=".."), "symbolic link"),
    # Deeper than the OS can create: this used to escape as FileNotFoundError.
    ("long-path", Member("d/" * 2000 + "f", b"x"), "longer than 1024 bytes"),
    ("deep-path", Member("d/" * 64 + "f", b"x"), "65 levels deep"),
    ("case-clash", Member("CONFIG.JSON", b"{}"), "only by letter case"),
    ("case-clash-dir", Member("Extra/a.txt", b"x"), "only by letter case"),
]
TAR_ONLY: list[tuple[str, Member, str]] = [
    ("hardlink", Member("hard", kind="hardlink", target="/etc/passwd"), "hard link"),
    ("chardev", Member("dev", kind="chardev"), "device file"),
    ("blockdev", Member("blk", kind="blockdev"), "device file"),
    ("fifo", Member("pipe", kind="fifo"), "fifo"),
]
ZIP_ONLY: list[tuple[str, Member, str]] = [
    ("chardev", Member("dev", kind="chardev"), "device file"),
    ("fifo", Member("pipe", kind="fifo"), "fifo"),
]
Builder = Callable[[list[Member]], bytes]
FORMATS: dict[str, tuple[str, Builder]] = {
    "tar": ("tar", lambda items: tar_bytes(items)),
    "tgz": ("tar.gz", lambda items: tar_bytes(items, "gz")),
    "zip": ("zip", lambda items: zip_bytes(items)),
}
CASES = [
    pytest.param(fmt, member, text, id=f"{fmt}-{case}")
    for fmt in FORMATS
    for case, member, text in HOSTILE + (ZIP_ONLY if fmt == "zip" else TAR_ONLY)
]


def expect(code: ErrorCode, run: Callable[[], object], *fragments: str) -> PipelineError:
    with pytest.raises(PipelineError) as caught:
        run()
    assert caught.value.code == code, caught.value.msg
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value


@pytest.mark.parametrize(("fmt", "member", "text"), CASES)
def test_hostile_member_is_refused_and_nothing_escapes(
    do_import: Importer, staging: Path, fmt: str, member: Member, text: str
) -> None:
    outside = staging.parent.parent  # the test's tmp_path: holds the job folder and more
    (outside / "neighbour.txt").write_text("must stay as it is")
    before = tree(outside)
    ext, build = FORMATS[fmt]
    # The hostile member sits after a valid file, so some writing has already happened.
    data = build([*OK[:1], member, *OK[1:], Member("extra/b.txt", b"x")])
    expect(ErrorCode.UNSAFE_ARCHIVE, lambda: do_import(data, ext), text)
    staged = {f"job/staging/{p}" for p in tree(staging)}
    assert tree(outside) - staged == before
    assert (outside / "neighbour.txt").read_text() == "must stay as it is"
    assert not Path("/tmp/weighbridge-evil.txt").exists()
    assert all(not p.is_symlink() for p in staging.rglob("*"))
    assert not (staging / "scratch").exists()
    assert {p.name for p in staging.iterdir()} == {"model"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_member_names_are_refused(do_import: Importer, fmt: str) -> None:
    ext, build = FORMATS[fmt]
    data = build([*OK, Member("./config.json", b"{}")])
    expect(ErrorCode.UNSAFE_ARCHIVE, lambda: do_import(data, ext), "'./config.json'", "twice")


@pytest.mark.parametrize("fmt", FORMATS)
def test_folders_are_fine(do_import: Importer, fmt: str) -> None:
    ext, build = FORMATS[fmt]
    data = build([Member("extra/", kind="dir"), Member("extra/deeper/", kind="dir"), *OK])
    result = do_import(data, ext)
    assert {f.path for f in result.files} == set(MODEL)
    assert result.parameter_count == 34


@pytest.mark.parametrize("fmt", FORMATS)
def test_member_count_limit(do_import: Importer, fmt: str) -> None:
    ext, build = FORMATS[fmt]
    data = build([*OK, *(Member(f"extra/{n}.txt", b"x") for n in range(10))])
    limits = UnpackLimits(max_unpacked_bytes=1 << 30, max_members=8, max_compression_ratio=200)
    expect(
        ErrorCode.LIMIT_EXCEEDED, lambda: do_import(data, ext, limits=limits), "limit of 8 members"
    )
    assert do_import(data, ext, limits=UnpackLimits(1 << 30, 13, 200)).files


@pytest.mark.parametrize("fmt", FORMATS)
def test_unpacked_size_limit(do_import: Importer, fmt: str) -> None:
    ext, build = FORMATS[fmt]
    data = build([*OK, Member("big.bin.txt", b"y" * 50_000)])
    limits = UnpackLimits(max_unpacked_bytes=40_000, max_members=100, max_compression_ratio=1e9)
    expect(
        ErrorCode.LIMIT_EXCEEDED,
        lambda: do_import(data, ext, limits=limits),
        "limit of 40000 bytes",
    )


def test_gzip_bomb_stops_at_the_ratio(do_import: Importer, staging: Path) -> None:
    data = gzip_bomb_tar(64 * 1024 * 1024)
    assert len(data) < 200_000
    limits = UnpackLimits(max_unpacked_bytes=1 << 40, max_members=100, max_compression_ratio=10)
    expect(
        ErrorCode.LIMIT_EXCEEDED,
        lambda: do_import(data, "tar.gz", limits=limits),
        "10 times",
        "zeros.safetensors",
    )
    # Stopped within a piece of the limit: ratio × the 1 MiB grace, not the full 64 MiB.
    written = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
    assert written == 0  # the half-written member was deleted


def test_zip_bomb_is_refused_before_writing(do_import: Importer, staging: Path) -> None:
    data = zip_bytes([Member("zeros.safetensors", bytes(32 * 1024 * 1024))])
    limits = UnpackLimits(max_unpacked_bytes=1 << 40, max_members=100, max_compression_ratio=10)
    expect(
        ErrorCode.LIMIT_EXCEEDED,
        lambda: do_import(data, "zip", limits=limits),
        "zeros.safetensors",
        "bomb",
    )
    assert tree(staging / "model") == set()


def test_zip_with_lying_sizes_is_corrupt(do_import: Importer) -> None:
    data = bytearray(zip_bytes(OK, compression=zipfile.ZIP_STORED))
    # Make the central directory claim a smaller size for the first member.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.infolist()[0]
    start = data.index(b"PK\x01\x02")  # the first central directory record
    # Its compressed and uncompressed sizes (offsets 20 and 24) now claim one byte less.
    data[start + 20 : start + 24] = (info.compress_size - 1).to_bytes(4, "little")
    data[start + 24 : start + 28] = (info.file_size - 1).to_bytes(4, "little")
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(bytes(data), "zip"), "upload.zip")


def test_encrypted_zip_is_unsupported(do_import: Importer) -> None:
    data = bytearray(zip_bytes(OK))
    start = data.index(b"PK\x01\x02")
    data[start + 8] |= 0x1  # general purpose flag: encrypted
    expect(ErrorCode.UNSUPPORTED_FORMAT, lambda: do_import(bytes(data), "zip"), "encrypted")


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_archive_is_corrupt(do_import: Importer, fmt: str) -> None:
    ext, build = FORMATS[fmt]
    data = build(OK)
    # Plain tar is padded with zeros to 10 KiB; cut inside the first member's data.
    cut = data[:700] if fmt == "tar" else data[: len(data) * 2 // 3]
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(cut, ext), "upload.")


def test_tar_cut_at_a_member_boundary_is_corrupt(do_import: Importer) -> None:
    whole = tar_bytes(OK)
    header_and_data = 512 + ((len(MODEL["model.safetensors"]) + 511) // 512) * 512
    assert whole[header_and_data : header_and_data + 512].strip(b"\0")  # a header follows
    cut = whole[:header_and_data]  # stop right after the first member's data
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(cut, "tar"), "breaks off")


def test_garbage_instead_of_a_header_is_corrupt(do_import: Importer) -> None:
    whole = bytearray(tar_bytes(OK))
    header_and_data = 512 + ((len(MODEL["model.safetensors"]) + 511) // 512) * 512
    whole[header_and_data : header_and_data + 512] = b"\x07" * 512
    expect(
        ErrorCode.CORRUPT_ARCHIVE,
        lambda: do_import(bytes(whole), "tar"),
        "breaks off after member 'model.safetensors'",
    )


def test_data_after_end_of_archive_is_corrupt(do_import: Importer) -> None:
    data = tar_bytes(OK) + tar_bytes([Member("sneaky.txt", b"x")])
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(data, "tar"), "after the end-of-archive")


def test_junk_after_the_gzip_data_is_corrupt_and_says_so(do_import: Importer) -> None:
    data = tar_bytes(OK, "gz") + b"junk" * 10
    error = expect(
        ErrorCode.CORRUPT_ARCHIVE,
        lambda: do_import(data, "tar.gz"),
        "upload.tar.gz: has bytes after the end of its gzip data that are not gzip",
    )
    assert "start of the archive" not in error.msg


def test_a_second_gzip_member_of_zeros_is_fine(do_import: Importer) -> None:
    data = tar_bytes(OK, "gz") + gzip.compress(bytes(1024))  # what some tools append
    assert do_import(data, "tar.gz").parameter_count == 34


def test_where_a_damaged_tar_breaks_is_said(do_import: Importer) -> None:
    data = tar_bytes(OK, "gz")
    expect(
        ErrorCode.CORRUPT_ARCHIVE,
        lambda: do_import(data[: len(data) // 2], "tar.gz"),
        "before its first member",  # the small tar is read ahead in one piece
    )


def test_gzip_crc_error_is_corrupt(do_import: Importer) -> None:
    data = bytearray(tar_bytes(OK, "gz"))
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(bytes(data), "tar.gz"), "upload.tar.gz")


def test_not_an_archive_is_corrupt(do_import: Importer) -> None:
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(b"hello, not a tar" * 100, "tar"))
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(b"hello, not a zip" * 100, "zip"))
    expect(
        ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(gzip.compress(b"not a tar" * 100), "tar.gz")
    )


@pytest.mark.parametrize("compression", ["bz2", "xz", "gz"])
def test_compression_is_sniffed_not_trusted_to_the_extension(
    do_import: Importer, compression: str
) -> None:
    result = do_import(tar_bytes(OK, compression), "tar")
    assert result.parameter_count == 34


def test_tar_in_one_byte_pieces(do_import: Importer) -> None:
    data = tar_bytes(members(MODEL, top="m"), "gz")
    result = do_import(data, "tar.gz", piece_bytes=1)
    assert {f.path for f in result.files} == set(MODEL)


def test_overlapping_zip_members_are_refused(do_import: Importer) -> None:
    data = bytearray(zip_bytes(OK, compression=zipfile.ZIP_STORED))
    second = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
    # Point the second member's local header offset (at +42) into the first member.
    data[second + 42 : second + 46] = (40).to_bytes(4, "little")
    expect(ErrorCode.UNSAFE_ARCHIVE, lambda: do_import(bytes(data), "zip"), "overlaps")


def test_huge_pax_header_is_refused_before_it_is_read(do_import: Importer) -> None:
    data = tar_with_pax_header(OK, 2 * 1024 * 1024)
    expect(ErrorCode.UNSAFE_ARCHIVE, lambda: do_import(data, "tar"), "pax header", "tokenizer.json")
    assert do_import(tar_with_pax_header(OK, 1000), "tar").parameter_count == 34


def test_zip_entry_count_is_read_before_the_directory(do_import: Importer) -> None:
    data = bytearray(zip_bytes(OK))
    end = data.rindex(b"PK\x05\x06")
    data[end + 8 : end + 12] = struct.pack("<HH", 60_000, 60_000)  # entries: this disk, total
    limits = UnpackLimits(max_unpacked_bytes=1 << 30, max_members=1000, max_compression_ratio=200)
    expect(
        ErrorCode.LIMIT_EXCEEDED,
        lambda: do_import(bytes(data), "zip", limits=limits),
        "60000 members",
    )


def test_zip64_entry_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)  # force zip64 end records
    path = tmp_path / "z.zip"
    path.write_bytes(zip_bytes(OK))
    assert declared_entries(path) == len(OK)
    assert bytes(path.read_bytes()).find(b"PK\x06\x06") > 0
    path.write_bytes(b"not a zip at all")
    assert declared_entries(path) is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_macos_metadata_is_skipped_with_a_warning(do_import: Importer, fmt: str) -> None:
    ext, build = FORMATS[fmt]
    items = [
        *members(MODEL, top="mymodel"),
        Member("mymodel/.DS_Store", b"\0\0\0\1Bud1"),
        Member("__MACOSX/", kind="dir"),
        Member("__MACOSX/mymodel/._config.json", b"\0\5\26\7"),
    ]
    result = do_import(build(items), ext)
    assert sorted(f.path for f in result.files) == sorted(MODEL)
    assert any(w.startswith("Skipped 2 macOS metadata entries") for w in result.warnings)


@pytest.mark.parametrize("fmt", FORMATS)
def test_macos_named_links_are_still_refused(do_import: Importer, fmt: str) -> None:
    ext, build = FORMATS[fmt]
    data = build([*OK, Member("._evil", kind="symlink", target="/etc/passwd")])
    expect(ErrorCode.UNSAFE_ARCHIVE, lambda: do_import(data, ext), "'._evil'", "symbolic link")


def test_wrong_extension_gets_a_hint(do_import: Importer) -> None:
    expect(
        ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(zip_bytes(OK), "tar"), "is a zip file", "zip"
    )
    tar, tgz = tar_bytes(OK), tar_bytes(OK, "gz")
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(tar, "zip"), "is a tar file")
    expect(ErrorCode.CORRUPT_ARCHIVE, lambda: do_import(tgz, "zip"), "is a tar file")
