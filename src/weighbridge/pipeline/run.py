"""The import body: one upload stream in, a checked model folder and its record out.

`run_import` is pure in the sense that matters to its callers: no HTTP, no database, no
framework; it reads `source` exactly once, writes only inside `staging_dir`, and either
returns an `ImportResult` or raises `PipelineError`. Order of work:

    stream ── hash + count ──┬─ tar / tar.gz: unpack while streaming
                             ├─ zip: spool to scratch, verify, then extract
                             └─ bare .safetensors / .gguf: write while streaming
    verify size + sha256 → strip a single top-level folder → detect and check (pickle
    files scanned, never unpickled) → result

Invariants: the checksum is judged before anything about the content is reported —
when unpacking fails and a checksum was given, the rest of the stream is still read so
that a corrupted transfer is reported as CHECKSUM_MISMATCH rather than as a broken
archive; the scratch folder is gone when this returns or raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.archive import unpack_tar
from weighbridge.pipeline.detect import DetectedModel, detect_model, validation_bytes
from weighbridge.pipeline.hashing import HashingReader, verify_upload
from weighbridge.pipeline.member_names import safe_relative_path
from weighbridge.pipeline.progress import ProgressMeter
from weighbridge.pipeline.result import ImportRequest, ImportResult
from weighbridge.pipeline.staging import ModelTree
from weighbridge.pipeline.unpack_budget import UnpackReport
from weighbridge.pipeline.zip_archive import unpack_zip

ARCHIVE_EXTENSIONS = {"tar": "tar", "tar.gz": "tar.gz", "tgz": "tar.gz", "zip": "zip"}
BARE_EXTENSIONS = {"safetensors", "gguf"}
# Every extension an upload may declare → its normal form; the one list of model formats.
UPLOAD_EXTENSIONS = {**ARCHIVE_EXTENSIONS, **{ext: ext for ext in sorted(BARE_EXTENSIONS)}}
# Share of the job's progress given to streaming/unpacking; validation gets the rest.
STREAM_SHARE = 0.9


def normalise_extension(extension: str) -> str:
    ext = extension.strip().lower().lstrip(".")
    ext = ARCHIVE_EXTENSIONS.get(ext, ext)
    if ext not in ARCHIVE_EXTENSIONS.values() and ext not in BARE_EXTENSIONS:
        raise PipelineError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"The file extension {extension!r} is not supported; upload a tar, tar.gz, zip, "
            "safetensors or gguf file.",
        )
    return ext


def run_import(
    source: Iterable[bytes],
    request: ImportRequest,
    staging_dir: Path,
    progress: Callable[[str, float], None],
) -> ImportResult:
    """Turn the uploaded bytes into a checked model under `staging_dir / "model"`.

    `source` yields the upload in order (pieces of at most 8 MiB) and is read once;
    `staging_dir` must exist and be empty; `progress(phase, fraction)` is called with
    VERIFYING / UNPACKING / VALIDATING and 0..1 of the whole job, about every 8 MiB.
    Raises PipelineError (the caller then removes staging_dir); exceptions raised by
    `source` or `progress` themselves propagate unchanged (OSError from `source` is
    reported as INTERNAL).
    """
    ext = normalise_extension(request.file_extension)
    meter = ProgressMeter(progress)
    reader = HashingReader(source, request.total_bytes, on_read=meter.advance)
    tree = ModelTree(staging_dir)
    report = UnpackReport()
    try:
        if ext == "zip":
            report = _import_zip(reader, request, tree, meter)
        else:
            phase = "VERIFYING" if ext in BARE_EXTENSIONS else "UNPACKING"
            meter.phase(phase, 0.0, STREAM_SHARE, request.total_bytes)
            try:
                if ext in BARE_EXTENSIONS:
                    _write_bare(reader, request, tree, ext)
                else:
                    report = unpack_tar(reader, tree, request.limits, request.file_name)
                    reader.drain()
            except PipelineError as failure:
                _prefer_transfer_error(reader, request, failure)
                raise
            verify_upload(reader, request.total_bytes, request.expected_sha256)
        tree.strip_single_top_folder()
        # Validation reads little beyond headers, except pickle files, which are scanned
        # opcode by opcode: their bytes drive the progress of this phase.
        meter.phase("VALIDATING", STREAM_SHARE, 1.0, validation_bytes(tree.files))
        detected = detect_model(tree.model_dir, tree.files, request.base_model, meter.advance)
        _check_adapter_flag(request, detected)
        meter.finish()
    finally:
        tree.remove_scratch()
    files = tree.files
    return ImportResult(
        sha256=reader.sha256_hex(),
        format=detected.format,
        is_adapter=detected.is_adapter,
        base_model=detected.base_model,
        architecture=detected.architecture,
        model_type=detected.model_type,
        parameter_count=detected.parameter_count,
        dtypes=detected.dtypes,
        size_bytes=sum(entry.size for entry in files),
        files=files,
        warnings=report.warnings() + detected.warnings,
        adapter=detected.adapter,
    )


def _prefer_transfer_error(
    reader: HashingReader, request: ImportRequest, failure: PipelineError
) -> None:
    """Report a wrong size or checksum instead of `failure` when there is one.

    A damaged transfer makes any archive look broken; telling the person "the bytes
    changed in transit" is what lets them fix it. Reading the rest costs only hashing,
    and only when there is something to compare against.
    """
    if failure.code == ErrorCode.SIZE_MISMATCH or request.expected_sha256 is None:
        return
    try:
        reader.drain()
        verify_upload(reader, request.total_bytes, request.expected_sha256)
    except PipelineError as transfer_error:
        raise transfer_error from failure


def _import_zip(
    reader: HashingReader, request: ImportRequest, tree: ModelTree, meter: ProgressMeter
) -> UnpackReport:
    """Spool the zip (it needs random access), verify it, then extract it."""
    meter.phase("VERIFYING", 0.0, STREAM_SHARE / 2, request.total_bytes)
    spool = tree.scratch_path("zip")
    with tree.open_scratch(spool) as out:
        for piece in reader.iter_pieces():
            out.write(piece)
        out.commit()
    verify_upload(reader, request.total_bytes, request.expected_sha256)

    def unpacking(total_bytes: int) -> None:
        meter.phase("UNPACKING", STREAM_SHARE / 2, STREAM_SHARE, total_bytes)

    try:
        return unpack_zip(spool, tree, request.limits, request.file_name, unpacking, meter.advance)
    finally:
        spool.unlink(missing_ok=True)


def _write_bare(reader: HashingReader, request: ImportRequest, tree: ModelTree, ext: str) -> None:
    """Write a single weights file to model/<fileName> (adding the extension if missing)."""
    name = request.file_name
    if not name.lower().endswith("." + ext):
        name = f"{name}.{ext}"
    rel = safe_relative_path(name)
    if rel is None or len(rel.parts) != 1:
        raise PipelineError(
            ErrorCode.INVALID_FIELD,
            f"The file name {request.file_name!r} is not a plain file name; start the import "
            "again with a name that has no folders in it.",
        )
    # The file is the upload, so its sha256 is the upload's: no second hash needed.
    with tree.open_file(rel, name, compute_sha256=False) as out:
        for piece in reader.iter_pieces():
            out.write(piece)
        out.commit()
    tree.record(PurePosixPath(rel), out.size, reader.sha256_hex())


def _check_adapter_flag(request: ImportRequest, detected: DetectedModel) -> None:
    if request.is_adapter is None or request.is_adapter == detected.is_adapter:
        return
    if request.is_adapter:
        raise PipelineError(
            ErrorCode.ADAPTER_MISMATCH,
            "The upload was marked as an adapter (isAdapter=true) but contains a full model "
            "(no adapter_config.json); import it again with isAdapter=false, or upload the "
            "adapter folder with its adapter_config.json.",
        )
    raise PipelineError(
        ErrorCode.ADAPTER_MISMATCH,
        "The upload was marked as a full model (isAdapter=false) but contains a PEFT adapter "
        "(adapter_config.json); import it again with isAdapter=true.",
    )
