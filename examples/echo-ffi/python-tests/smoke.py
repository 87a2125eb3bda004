"""Smoke test of the echo-ffi cdylib through ctypes.

Usage: python3 smoke.py PATH/TO/libecho_ffi.so
Prints "smoke: ok" and exits 0 on success; exits 1 with a message otherwise.
"""

import ctypes
import sys


def main(path):
    lib = ctypes.CDLL(path)
    # c_void_p, not c_char_p: the pointer is needed to release the reply.
    lib.echo_ffi_handle_line.argtypes = [ctypes.c_char_p]
    lib.echo_ffi_handle_line.restype = ctypes.c_void_p
    lib.echo_ffi_free.argtypes = [ctypes.c_void_p]
    lib.echo_ffi_free.restype = None
    lib.echo_ffi_version.argtypes = []
    lib.echo_ffi_version.restype = ctypes.c_char_p

    def handle(line):
        reply = lib.echo_ffi_handle_line(line)
        if reply is None:
            return None
        try:
            return ctypes.string_at(reply)
        finally:
            lib.echo_ffi_free(reply)

    failures = []
    cases = [
        (b"hello", b"hello"),
        (b"PING", b"PONG"),
        (b"", b""),
        ("grüße".encode(), "grüße".encode()),
    ]
    for line, expected in cases:
        got = handle(line)
        if got != expected:
            failures.append(f"reply to {line!r} is {got!r}, expected {expected!r}")
    if handle(None) is not None:
        failures.append("reply to NULL is not NULL")
    version = lib.echo_ffi_version()
    if not version:
        failures.append("empty version")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"smoke: ok (echo_ffi {version.decode()})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
