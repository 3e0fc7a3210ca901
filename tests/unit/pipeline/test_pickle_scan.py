"""The pickle scanner: one test per refusal rule, on pickles written opcode by opcode.

Nothing here is ever unpickled. Payloads that would leave a trace if they ran (touching
a file) prove it: the file must not exist afterwards.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.builders import TINY_TORCH, PickleWriter, call_pickle, state_dict_pickle
from tests.builders.torch_files import write_tensor
from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline import pickle_scan
from weighbridge.pipeline.pickle_scan import Container, PickleScan, TensorCall, scan_pickle
from weighbridge.pipeline.pickle_stream import MAX_VALUE_BYTES, BoundedReader


def scan(data: bytes, name: str = "evil.pkl") -> PickleScan:
    return scan_pickle(BoundedReader(io.BytesIO(data), len(data), name))


def refused(code: ErrorCode, data: bytes, *fragments: str) -> str:
    with pytest.raises(PipelineError) as caught:
        scan(data)
    assert caught.value.code == code, caught.value.msg
    for fragment in fragments:
        assert fragment in caught.value.msg, caught.value.msg
    return caught.value.msg


class Payload:
    """Pickles as a call of `function(*args)`; pickling it never calls anything."""

    def __init__(self, function: Callable[..., Any], *args: str) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.function, self.args


def test_state_dict_is_allowed_and_tensors_are_named() -> None:
    result = scan(state_dict_pickle(TINY_TORCH))
    assert result.globals == {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch.FloatStorage",
        "torch.LongStorage",
        "torch.HalfStorage",
    }
    assert [t.name for t in result.tensors] == [t.name for t in TINY_TORCH]
    assert [t.args[2] for t in result.tensors] == [t.shape for t in TINY_TORCH]
    assert len(result.persistent_ids) == 3


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("nt", "system"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("__builtin__", "getattr"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("torch", "load"),
        ("torch.storage", "_load_from_bytes"),
        ("collections", "OrderedDict.fromkeys"),  # dotted names reach other attributes
        ("transformers.training_args", "TrainingArguments"),
    ],
)
def test_global_outside_the_allow_list_is_unsafe(module: str, name: str) -> None:
    msg = refused(
        ErrorCode.UNSAFE_PICKLE, call_pickle(module, name, "echo"), "evil.pkl", f"{module}.{name}"
    )
    assert "remove the file" in msg and "safetensors" in msg


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_global_name_with_a_nul_is_shown_escaped(protocol: int) -> None:
    # The message is stored as the job's error; PostgreSQL text cannot hold a NUL.
    msg = refused(
        ErrorCode.UNSAFE_PICKLE,
        call_pickle("o\x00s", "sys\x1btem", "echo", protocol=protocol),
        "'o\\x00s.sys\\x1btem'",
    )
    assert "\x00" not in msg and "\x1b" not in msg


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_reduce_to_os_system_is_unsafe_in_every_protocol(protocol: int, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = pickle.dumps(Payload(os.system, f"touch {marker}"), protocol=protocol)
    # GLOBAL below protocol 4, STACK_GLOBAL (with MEMOIZE/FRAME) from 4 on.
    refused(ErrorCode.UNSAFE_PICKLE, data, f"{os.system.__module__}.system")
    assert not marker.exists()


def test_stack_global_from_memo_is_still_seen() -> None:
    # Module and name stored in the memo first, fetched back for STACK_GLOBAL.
    w = PickleWriter(4).text("subprocess").op(b"q\x00").text("Popen").op(b"q\x01")
    data = w.op(b"h\x00h\x01\x93").stop()
    refused(ErrorCode.UNSAFE_PICKLE, data, "subprocess.Popen")


def test_stack_global_from_values_that_are_not_strings_is_unsafe() -> None:
    data = PickleWriter(4).op(b")").text("system").op(b"\x93").stop()  # module is a tuple
    refused(ErrorCode.UNSAFE_PICKLE, data, "not plain strings")


def test_inst_of_a_class_outside_the_allow_list_is_unsafe() -> None:
    data = b"(S'echo'\nios\nsystem\n."  # protocol 0 INST
    refused(ErrorCode.UNSAFE_PICKLE, data, "os.system")


def test_obj_of_a_class_outside_the_allow_list_is_unsafe() -> None:
    data = PickleWriter(1).mark().glob("subprocess", "Popen").text("echo").op(b"o").stop()
    refused(ErrorCode.UNSAFE_PICKLE, data, "subprocess.Popen")


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("REDUCE", b"R"),
        ("NEWOBJ", b"\x81"),
        ("NEWOBJ_EX", b"}\x92"),
    ],
)
def test_calling_an_allowed_reference_is_unsafe(name: str, call: bytes) -> None:
    # torch.FloatStorage may be named (in persistent ids) but never called: it allocates.
    data = PickleWriter(4).glob("torch", "FloatStorage").mark().number(10**12).op(b"t")
    refused(ErrorCode.UNSAFE_PICKLE, data.op(call).stop(), "calls torch.FloatStorage")


def test_obj_calling_an_allowed_reference_is_unsafe() -> None:
    data = PickleWriter().mark().glob("torch", "float32").number(1).op(b"o").stop()
    refused(ErrorCode.UNSAFE_PICKLE, data, "calls torch.float32")


def test_calling_something_that_is_not_a_global_is_unsafe() -> None:
    data = PickleWriter().text("os.system").mark().text("echo").op(b"tR").stop()
    refused(ErrorCode.UNSAFE_PICKLE, data, "not a function")


@pytest.mark.parametrize("ext", [b"\x82\x01", b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"])
def test_extension_registry_codes_are_unsafe(ext: bytes) -> None:
    data = PickleWriter().op(ext).op(b")R").stop()
    refused(ErrorCode.UNSAFE_PICKLE, data, "extension registry")


def test_build_on_a_global_is_unsafe() -> None:
    data = PickleWriter().glob("collections", "OrderedDict").op(b"}b").stop()
    refused(ErrorCode.UNSAFE_PICKLE, data, "sets attributes on the global collections.OrderedDict")


def test_build_on_an_allowed_object_is_fine() -> None:
    # torch.save of a state dict sets its _metadata this way.
    data = PickleWriter().glob("collections", "OrderedDict").op(b")R}")
    data.text("_metadata").op(b"}s").op(b"b")
    assert isinstance(scan(data.stop()).result, Container)


def test_parameter_passes_its_tensor_through() -> None:
    w = PickleWriter().glob("torch._utils", "_rebuild_parameter").mark()
    write_tensor(w, TINY_TORCH[0], "0")
    w.op(b"\x88").glob("collections", "OrderedDict").op(b")RtR")
    result = scan(w.stop())
    assert isinstance(result.result, TensorCall) and result.tensors == [result.result]


def test_unsafe_global_wins_over_later_garbage() -> None:
    # pickle.load would run the call before reaching the damage, so it must not pass as
    # "merely damaged".
    data = call_pickle("os", "system", "echo")[:-1] + b"\xff\xff"
    refused(ErrorCode.UNSAFE_PICKLE, data, "os.system")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x80\x02\xff.", "unknown"),
        (b"\x80\x02X\x10\x00\x00\x00abc", "only 3 remain"),
        (b"\x80\x02t.", "MARK"),
        (b"\x80\x02R.", "more values"),
        (b"\x80\x02h\x05.", "memo entry 5"),
        (b"\x80\x05\x97.", "NEXT_BUFFER"),
        (b"\x80\x02N", "STOP"),
    ],
)
def test_malformed_pickles_are_invalid(data: bytes, fragment: str) -> None:
    refused(ErrorCode.INVALID_MODEL, data, "evil.pkl", fragment)


def test_huge_declared_string_is_refused_before_reading() -> None:
    data = b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"x"  # BINUNICODE8
    refused(ErrorCode.LIMIT_EXCEEDED, data, str(2**62), str(MAX_VALUE_BYTES))


def test_huge_line_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("weighbridge.pipeline.pickle_stream.MAX_VALUE_BYTES", 100)
    refused(ErrorCode.LIMIT_EXCEEDED, b"cos\n" + b"s" * 200 + b"\n.", "evil.pkl")


def test_opcode_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pickle_scan, "MAX_OPCODES", 50)
    data = PickleWriter().op(b"N0" * 30).op(b"N").stop()
    refused(ErrorCode.LIMIT_EXCEEDED, data, "more than 50 pickle opcodes")
