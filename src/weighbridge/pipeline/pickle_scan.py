"""Scanning one pickle without unpickling it: which globals it names, which tensors it builds.

How: `pickletools.genops` decodes the stream one opcode at a time (it never imports or
calls anything), and a small stack machine follows the opcodes. The machine keeps only
what the rules need — strings, numbers and tuples (module/name for STACK_GLOBAL, tensor
shapes), lists' items (the legacy format's storage keys), placeholders for every other
object — and never calls anything: a "call" only checks the callee and records it.

Rules. A refusal is UNSAFE_PICKLE naming the file and the global, unless noted:
- every GLOBAL, STACK_GLOBAL and INST names an allowed global: what a plain tensor
  checkpoint written by `torch.save` needs (`ALLOWED_CALLABLES`, plus the storage
  classes and dtypes of `torch_dtypes`). A global is judged where it is *named*, before
  anything could call it, so REDUCE / NEWOBJ / OBJ / BUILD only ever meet allowed ones;
- only `ALLOWED_CALLABLES` may be called; storage classes and dtypes may only be
  referenced (calling torch.FloatStorage(n) would allocate n floats);
- STACK_GLOBAL's module and name must be strings the pickle pushed itself;
- EXT1/EXT2/EXT4 (the copyreg extension registry names globals by number, hiding them)
  are refused outright; BUILD on a global (setting attributes of a class) too;
- malformed streams, out-of-band buffers and unknown opcodes are INVALID_MODEL;
- at most `MAX_OPCODES` opcodes and `MAX_VALUE_BYTES` per string or line (checked before
  reading, so a declared 8-EiB string costs nothing) → else LIMIT_EXCEEDED.
The same allow-list holds for every pickle, weights or not (see `torch_check`).
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field

from weighbridge.errors import ErrorCode, PipelineError
from weighbridge.pipeline.pickle_stream import BoundedReader, invalid, unsafe
from weighbridge.pipeline.torch_dtypes import DTYPES, STORAGE_TYPES

# "module name" (as pickletools prints GLOBAL) → what calling it yields here.
ALLOWED_CALLABLES: dict[str, str] = {
    "collections OrderedDict": "object",
    "torch._utils _rebuild_tensor_v2": "tensor",
    "torch._utils _rebuild_tensor_v3": "tensor",
    "torch._utils _rebuild_parameter": "parameter",  # (tensor, requires_grad, hooks)
    "torch Size": "object",
    "torch device": "object",
}
ALLOWED_GLOBALS = frozenset(ALLOWED_CALLABLES) | frozenset(STORAGE_TYPES) | frozenset(DTYPES)
MAX_OPCODES = 4_000_000
# Opcodes that push their argument as is (numbers and strings), and byte strings.
_VALUES = (
    frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"})
    | frozenset(
        {"FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE"}
    )
    | frozenset({"SHORT_BINUNICODE", "BINUNICODE8"})
)
_BYTES = frozenset({"BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"})
_CALLS = frozenset({"REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ"})


@dataclass(frozen=True)
class Global:
    module: str
    name: str

    def __str__(self) -> str:
        # Quoted in UNSAFE_PICKLE messages, so a hostile name must not carry a NUL or
        # control character into them: those are shown escaped.
        text = f"{self.module}.{self.name}"
        return text if text.isprintable() else repr(text)


@dataclass(frozen=True)
class PersistentId:
    """What a (BIN)PERSID refers to; torch uses ('storage', class, key, location, numel)."""

    pid: object


@dataclass
class TensorCall:
    """A call of a tensor-rebuilding function, with the key it was stored under (if any)."""

    function: str  # the "module name" of the rebuild function
    args: tuple[object, ...]
    name: str | None = None


@dataclass
class Container:
    """A list, dict, set or object; only a list's items are kept."""

    kind: str
    items: list[object] = field(default_factory=list)


@dataclass
class PickleScan:
    result: object  # the value STOP returned (torch's legacy magic number, key list, …)
    globals: set[str] = field(default_factory=set)  # "module.name" of each global named
    tensors: list[TensorCall] = field(default_factory=list)
    persistent_ids: list[PersistentId] = field(default_factory=list)


class _Machine:
    """The symbolic stack machine for one pickle (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stack: list[object] = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        self.scan = PickleScan(result=None)
        self.position: int | None = 0

    def pop(self) -> object:
        if not self.stack or (self.marks and len(self.stack) == self.marks[-1]):
            raise invalid(self.name, "an opcode takes more values than were pushed", self.position)
        return self.stack.pop()

    def pop_mark(self) -> list[object]:
        if not self.marks:
            raise invalid(self.name, "an opcode needs a MARK that is missing", self.position)
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def top(self) -> object:
        if not self.stack:
            raise invalid(self.name, "an opcode needs a value on an empty stack", self.position)
        return self.stack[-1]

    def name_global(self, module: object, attribute: object) -> Global:
        if not isinstance(module, str) or not isinstance(attribute, str):
            raise unsafe(
                self.name,
                "builds a global's name from values that are not plain strings",
                self.position,
            )
        found = Global(module, attribute)
        self.scan.globals.add(str(found))
        if f"{module} {attribute}" not in ALLOWED_GLOBALS:
            raise unsafe(self.name, f"names the global {found}", self.position)
        return found

    def call(self, function: object, args: object) -> object:
        key = f"{function.module} {function.name}" if isinstance(function, Global) else ""
        if key not in ALLOWED_CALLABLES:
            what = f"calls {function}" if key else "calls a value that is not a function"
            raise unsafe(self.name, what, self.position)
        if not isinstance(args, tuple):
            raise invalid(
                self.name, f"{function} is called without an argument tuple", self.position
            )
        kind = ALLOWED_CALLABLES[key]
        if kind == "tensor":
            call = TensorCall(key, args)
            self.scan.tensors.append(call)
            return call
        if kind == "parameter":
            if not args or not isinstance(args[0], TensorCall):
                raise invalid(self.name, "_rebuild_parameter gets no tensor", self.position)
            return args[0]
        return Container(function.name if isinstance(function, Global) else "object")

    def store(self, target: object, pairs: list[object]) -> None:
        """SETITEM(S)/DICT: name the tensors after their keys (first name wins)."""
        if isinstance(target, Global) or len(pairs) % 2:
            raise invalid(self.name, "items are set on a value that is not a dict", self.position)
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):
            if isinstance(key, str) and isinstance(value, TensorCall) and value.name is None:
                value.name = key

    def call_opcode(self, op: str) -> object:
        """REDUCE, NEWOBJ, NEWOBJ_EX and OBJ: pop the callee and its arguments, then call."""
        if op == "OBJ":
            items = self.pop_mark()
            if not items:
                raise invalid(self.name, "OBJ without a class", self.position)
            return self.call(items[0], tuple(items[1:]))
        if op == "NEWOBJ_EX":
            self.pop()  # keyword arguments: plain data, checked like everything else
        args = self.pop()
        return self.call(self.pop(), args)

    def step(self, op: str, arg: object) -> bool:
        """Apply one opcode; return True at STOP."""
        push = self.stack.append
        if op in ("MARK",):
            self.marks.append(len(self.stack))
        elif op in _VALUES:
            push(arg)
        elif op in _BYTES:
            push(Container("bytes"))  # contents never matter; do not keep them
        elif op in ("NONE", "NEWTRUE", "NEWFALSE"):
            push({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[op])
        elif op == "EMPTY_TUPLE":
            push(())
        elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
            items = [self.pop() for _ in range(int(op[-1]))]
            push(tuple(reversed(items)))
        elif op == "TUPLE":
            push(tuple(self.pop_mark()))
        elif op in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
            push(Container(op[6:].lower()))
        elif op == "LIST":
            push(Container("list", self.pop_mark()))
        elif op == "DICT":
            pairs = self.pop_mark()
            self.store(Container("dict"), pairs)
            push(Container("dict"))
        elif op == "FROZENSET":
            self.pop_mark()
            push(Container("frozenset"))
        elif op in ("APPEND", "APPENDS", "ADDITEMS"):
            items = [self.pop()] if op == "APPEND" else self.pop_mark()
            target = self.top()
            if not isinstance(target, Container):
                raise invalid(
                    self.name, f"{op} on a value that is not a list or set", self.position
                )
            if target.kind == "list":
                target.items.extend(items)
        elif op in ("SETITEM", "SETITEMS"):
            pairs = [self.pop(), self.pop()][::-1] if op == "SETITEM" else self.pop_mark()
            self.store(self.top(), pairs)
        elif op == "POP":
            self.pop()
        elif op == "POP_MARK":
            self.pop_mark()
        elif op == "DUP":
            push(self.top())
        elif op in ("PUT", "BINPUT", "LONG_BINPUT") and isinstance(arg, int):
            self.memo[arg] = self.top()
        elif op == "MEMOIZE":
            self.memo[len(self.memo)] = self.top()
        elif op in ("GET", "BINGET", "LONG_BINGET") and isinstance(arg, int):
            if arg not in self.memo:
                raise invalid(
                    self.name, f"memo entry {arg} is read before it is written", self.position
                )
            push(self.memo[arg])
        elif op in ("GLOBAL", "INST"):
            module, _, name = str(arg).partition(" ")
            named = self.name_global(module, name)
            push(named if op == "GLOBAL" else self.call(named, tuple(self.pop_mark())))
        elif op == "STACK_GLOBAL":
            name_value = self.pop()
            push(self.name_global(self.pop(), name_value))
        elif op in _CALLS:
            push(self.call_opcode(op))
        elif op == "BUILD":
            self.pop()  # the state: plain data, checked like everything else
            if isinstance(self.top(), Global):
                raise unsafe(
                    self.name, f"sets attributes on the global {self.top()}", self.position
                )
        elif op in ("PERSID", "BINPERSID"):
            persistent = PersistentId(arg if op == "PERSID" else self.pop())
            self.scan.persistent_ids.append(persistent)
            push(persistent)
        elif op in ("EXT1", "EXT2", "EXT4"):
            raise unsafe(
                self.name,
                f"uses the extension registry ({op} code {arg}), which hides which global is meant",
                self.position,
            )
        elif op in ("PROTO", "FRAME"):
            pass
        elif op == "STOP":
            self.scan.result = self.pop()
            return True
        else:  # NEXT_BUFFER, READONLY_BUFFER, and anything newer than this table
            raise invalid(self.name, f"opcode {op} is not supported", self.position)
        return False


def scan_pickle(reader: BoundedReader) -> PickleScan:
    """Scan the pickle that starts at the reader's position, up to and including STOP."""
    machine = _Machine(reader.name)
    count = 0
    try:
        # genops only needs read/readline/tell, which BoundedReader provides.
        for opcode, arg, position in pickletools.genops(reader):  # type: ignore[arg-type]
            machine.position = position
            count += 1
            if count > MAX_OPCODES:
                raise PipelineError(
                    ErrorCode.LIMIT_EXCEEDED,
                    f"{reader.name} has more than {MAX_OPCODES} pickle opcodes, more than the "
                    "scanner accepts for one pickle; convert the file to safetensors or "
                    "remove it.",
                )
            if machine.step(opcode.name, arg):
                break
    except ValueError as exc:  # pickletools: unknown opcode, truncated argument, …
        raise invalid(reader.name, str(exc), reader.position) from None
    reader.flush_progress()
    return machine.scan
