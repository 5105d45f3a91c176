"""fngate's Python worker: loads one function and runs it once per call frame.

Started as ``python -I -S -c <this source> <read fd> <write fd>`` (the source
is passed inline so the worker user needs no access to the installation).
Frames: 4-byte big-endian length + UTF-8 JSON; see ``executors/protocol.py``.
Only the standard library is used.
"""

import io
import json
import os
import resource
import struct
import sys
import threading
import time
import types

_HEADER = struct.Struct(">I")
_RFD = int(sys.argv[1])
_WFD = int(sys.argv[2])
_LOCK = threading.Lock()
_BASE_ENV = dict(os.environ)


# A frame held back to go out with the next one (see main): one write, one wake-up of
# the gateway instead of two.
_HELD = [b""]


def _send_raw(body):
    data = _HEADER.pack(len(body)) + body
    with _LOCK:
        if _HELD[0]:
            data = _HELD[0] + data
            _HELD[0] = b""
        view = memoryview(data)
        while view:
            n = os.write(_WFD, view)
            view = view[n:]


def _send(frame):
    _send_raw(json.dumps(frame).encode("utf-8"))


_INBOX = bytearray()


def _fill(n):
    """Read until ``n`` bytes are buffered; a frame and its header usually come in one read."""
    while len(_INBOX) < n:
        chunk = os.read(_RFD, min(max(n - len(_INBOX), 1 << 16), 1 << 20))
        if not chunk:
            os._exit(0)  # the gateway went away
        _INBOX.extend(chunk)


def _complete_frame_waiting():
    """Whether a whole frame is already read (no system call)."""
    if len(_INBOX) < 4:
        return False
    (size,) = _HEADER.unpack_from(_INBOX)
    return len(_INBOX) >= 4 + size


def _recv():
    _fill(4)
    (size,) = _HEADER.unpack_from(_INBOX)
    _fill(4 + size)
    body = bytes(_INBOX[4 : 4 + size])
    del _INBOX[: 4 + size]
    return json.loads(body)


class _Logs:
    """Per-call log accounting shared by stdout and stderr."""

    def __init__(self):
        self.limit = 64 * 1024
        self.used = 0
        self.truncated = False

    def reset(self):
        self.used = 0
        self.truncated = False


_LOGS = _Logs()


class _LogStream(io.TextIOBase):
    """A text stream that turns each printed line into a log frame."""

    def __init__(self, name):
        super().__init__()
        self._name = name
        self._partial = []

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        if "\n" not in s:
            self._partial.append(s)
            if sum(map(len, self._partial)) > 8192:
                self.flush()
            return len(s)
        lines = s.split("\n")
        lines[0] = "".join(self._partial) + lines[0]
        self._partial = [lines[-1]] if lines[-1] else []
        for line in lines[:-1]:
            self._emit(line)
        return len(s)

    def flush(self):
        if self._partial:
            line = "".join(self._partial)
            self._partial = []
            self._emit(line)

    def _emit(self, line):
        size = len(line.encode("utf-8", "replace")) + 1
        if _LOGS.truncated or _LOGS.used + size > _LOGS.limit:
            _LOGS.truncated = True
            return
        _LOGS.used += size
        _send({"type": "log", "stream": self._name, "message": line, "ts": time.time()})


class _BinaryLog(io.RawIOBase):
    """``sys.stdout.buffer``: bytes written are decoded and logged."""

    def __init__(self, text):
        super().__init__()
        self._text = text

    def writable(self):
        return True

    def write(self, b):
        self._text.write(bytes(b).decode("utf-8", "replace"))
        return len(b)


class Context:
    """The handler's ``context``: call facts as attributes, plus ``remaining_ms()``."""

    def __init__(self, frame):
        for key, value in (frame.get("extra") or {}).items():
            setattr(self, str(key), value)
        self.job_id = frame.get("job_id")
        self.function_name = frame.get("function_name")
        self.version = frame.get("version")
        self.trigger = frame.get("trigger")
        self.deadline_ms = frame.get("deadline_ms")
        self.sub = frame.get("sub")

    def remaining_ms(self):
        return max(0, int(self.deadline_ms - time.time() * 1000))

    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)

    def __repr__(self):
        return f"Context({vars(self)!r})"


class _State:
    path = None
    handler = None
    nargs = 2
    load_error = None
    max_result = 6 * 1024 * 1024


_LOOP = None


def _run_awaitable(awaitable):
    """Run an async handler's result on the worker's one loop, made at first use.

    asyncio is imported only then: it nearly doubles an idle worker's memory.
    """
    global _LOOP
    if _LOOP is None:
        import asyncio

        _LOOP = asyncio.new_event_loop()
        asyncio.set_event_loop(_LOOP)
    return _LOOP.run_until_complete(awaitable)


def _user_frames(tb_exc):
    return [f for f in tb_exc.stack if f.filename == _State.path]


def _error(exc):
    import traceback  # only on errors: it is not needed to run, and costs memory

    te = traceback.TracebackException.from_exception(exc)
    user = _user_frames(te)
    line = user[-1].lineno if user else None
    column = None
    if isinstance(exc, SyntaxError) and exc.filename == _State.path:
        line = exc.lineno
        column = exc.offset
    te.stack = traceback.StackSummary.from_list(user)
    stack = "".join(te.format(chain=False))
    if isinstance(exc, SyntaxError):
        message = exc.msg or str(exc)
    else:
        message = str(exc)
    return {
        "type": type(exc).__name__,
        "message": message,
        "stack_trace": stack,
        "line": line,
        "column": column,
    }


_CO_VARARGS = 0x04
_CO_ITERABLE_COROUTINE = 0x100


def _count_args(fn):
    code = getattr(fn, "__code__", None)
    if isinstance(code, types.CodeType):  # a plain function or method: no inspect needed
        if code.co_flags & _CO_VARARGS:
            return 2
        n = code.co_argcount - (1 if getattr(fn, "__self__", None) is not None else 0)
        return max(0, min(n, 2))
    import inspect  # other callables (partials, classes…): rare, and inspect costs memory

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    n = 0
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            return 2
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return min(n, 2)


def _awaitable(value):
    """``inspect.isawaitable`` without importing inspect."""
    if isinstance(value, types.CoroutineType) or hasattr(type(value), "__await__"):
        return True
    return isinstance(value, types.GeneratorType) and bool(
        value.gi_code.co_flags & _CO_ITERABLE_COROUTINE)


def _write_file(path, data):
    """``data`` (bytes) into a new file at ``path``: a few system calls, no file object."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _specialize(frame):
    if _State.path is not None:  # specialized before: back to the environment it started with
        os.environ.clear()
        os.environ.update(_BASE_ENV)
    os.environ.update(frame.get("environment") or {})
    _LOGS.limit = int(frame.get("max_log_bytes", _LOGS.limit))
    _State.max_result = int(frame.get("max_result_bytes", _State.max_result))
    path = os.path.join(os.getcwd(), "handler.py")
    _State.path = path
    code = frame["code"]
    _write_file(path, code.encode("utf-8"))
    module = types.ModuleType("handler")
    module.__file__ = path
    sys.modules["handler"] = module
    deps = frame.get("dependencies_path")
    if deps:
        # The published dependency build; the function's own directory still comes first.
        sys.path.insert(0, deps)
    sys.path.insert(0, os.path.dirname(path))
    name = frame.get("handler") or "handler"
    try:
        exec(compile(code, path, "exec"), module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - any load failure is the user's
        _State.load_error = _error(exc)
        return
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    fn = getattr(module, name, None)
    if not callable(fn):
        _State.load_error = {
            "type": "HandlerNotFound",
            "message": f"handler {name!r} is not a function defined in handler.py",
            "stack_trace": None,
            "line": None,
            "column": None,
        }
        return
    _State.handler = fn
    _State.nargs = _count_args(fn)


class _Children:
    # CPU of reaped children as of the end of the last call: children are reaped only
    # while user code runs, so it is also the value at the start of the next one.
    cpu = 0.0


def _self_cpu():
    a = resource.getrusage(resource.RUSAGE_SELF)
    return a.ru_utime + a.ru_stime


def _usage():
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime, b.ru_utime + b.ru_stime, max(a.ru_maxrss, b.ru_maxrss)


def _call(frame):
    _LOGS.reset()
    cpu0 = _self_cpu() + _Children.cpu
    error = None
    body = None
    if _State.load_error is not None:
        error = _State.load_error
    else:
        ctx = Context(frame.get("context") or {})
        args = (frame.get("event"), ctx)[: _State.nargs]
        try:
            result = _State.handler(*args)
            if _awaitable(result):
                result = _run_awaitable(result)
        except BaseException as exc:  # noqa: BLE001 - SystemExit too is the user's
            error = _error(exc)
        else:
            try:
                body = json.dumps(result, allow_nan=False, separators=(",", ":"))
            except (TypeError, ValueError, RecursionError) as exc:
                error = {
                    "type": "InvalidResult",
                    "message": f"result is not JSON-serializable: {exc}",
                }
            else:
                if len(body) > _State.max_result:
                    error = {
                        "type": "ResultTooLarge",
                        "message": f"result is {len(body)} bytes,"
                        f" over the limit of {_State.max_result}",
                    }
    sys.stdout.flush()
    sys.stderr.flush()
    own, children, rss = _usage()
    _Children.cpu = children
    cpu1 = own + children
    meta = {
        "type": "result",
        "ok": error is None,
        "cpu_ms": round((cpu1 - cpu0) * 1000, 3),
        "max_rss": rss * 1024,
        "logs_truncated": _LOGS.truncated,
    }
    if error is not None:
        meta["error"] = error
        _send(meta)
    else:
        head = json.dumps(meta)[:-1] + ', "result": '
        _send_raw(head.encode("utf-8") + body.encode("utf-8") + b"}")


def _warm_up():
    """Run once what every specialize and call run, before this worker is handed out.

    A pre-started worker has never compiled code nor encoded a result: those first
    runs page the interpreter's parser, compiler and json paths in (about a
    millisecond here) and would fall on the first invoke's cold start. So would the
    first change of the environment and the creation of handler.py (made here empty,
    it is only rewritten then).
    """
    os.environ["FNGATE_WARM_UP"] = "1"
    del os.environ["FNGATE_WARM_UP"]
    _write_file(os.path.join(os.getcwd(), "handler.py"), b"")
    scratch = {}
    exec(compile("def handler(event, context=None):\n    return {'a': [event, 1.5]}\n",
                 "<warm-up>", "exec"), scratch)
    result = scratch["handler"](json.loads('{"x": "y"}'))
    json.dumps(result, allow_nan=False, separators=(",", ":"))
    _count_args(scratch["handler"])
    _usage()
    _Children.cpu = _usage()[1]


def main():
    for fd in (_RFD, _WFD):
        os.set_inheritable(fd, False)
    out = _LogStream("stdout")
    err = _LogStream("stderr")
    out.buffer = _BinaryLog(out)
    err.buffer = _BinaryLog(err)
    sys.stdout = sys.__stdout__ = out
    sys.stderr = sys.__stderr__ = err
    sys.stdin = sys.__stdin__ = io.StringIO("")
    sys.argv = ["handler.py"]
    _warm_up()
    _send({"type": "ready", "pid": os.getpid()})
    while True:
        frame = _recv()
        kind = frame.get("type")
        if kind == "call":
            _call(frame)
        elif kind == "specialize":
            began = time.perf_counter()
            _specialize(frame)
            _Children.cpu = _usage()[1]  # loading the code may have run children
            load_ms = (time.perf_counter() - began) * 1000
            reply = json.dumps({"type": "specialized", "error": _State.load_error,
                                "load_ms": load_ms}).encode("utf-8")
            if _complete_frame_waiting():
                # The call came with it (a cold start): the reply goes out with the call's
                # first frame (a log line or the result).
                with _LOCK:
                    _HELD[0] = _HEADER.pack(len(reply)) + reply
            else:
                _send_raw(reply)


main()
