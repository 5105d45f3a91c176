"""fngate's pre-started worker of a compiled runtime (Go, Rust): waits in its sandbox, then
becomes the function's binary with one exec, keeping its frame pipes.

Started as ``python -S -I -c <this source> <read fd> <write fd>``. Frames as in
``executors/protocol.py``: it sends ``ready``, reads one ``exec`` frame naming the binary
(inside the sandbox: the published build, read-only), and execs it with the same two fds;
the binary then sends its own ``ready``. Only the standard library is used.
"""

import json
import os
import struct
import sys

_RFD = int(sys.argv[1])
_WFD = int(sys.argv[2])


def _read(n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(_RFD, n - len(buf))
        if not chunk:
            os._exit(0)  # the gateway went away
        buf += chunk
    return buf


def main():
    body = json.dumps({"type": "ready", "pid": os.getpid()}).encode()
    os.write(_WFD, struct.pack(">I", len(body)) + body)
    (size,) = struct.unpack(">I", _read(4))
    frame = json.loads(_read(size))
    if frame.get("type") != "exec" or not isinstance(frame.get("path"), str):
        os._exit(3)
    path = frame["path"]
    for fd in (_RFD, _WFD):
        os.set_inheritable(fd, True)
    os.execv(path, [path, str(_RFD), str(_WFD)])


main()
