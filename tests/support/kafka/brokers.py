#!/usr/bin/env python3
"""Prints the broker ids one broker reports in its metadata (Metadata v0, stdlib only), so the
cluster script can tell when every broker sees all three without starting a JVM per probe."""
import socket
import struct
import sys


def main(addr: str) -> None:
    host, port = addr.rsplit(":", 1)
    client = b"cluster.sh"
    # api_key 3 (Metadata), version 0, correlation id 1, client id; then an empty topic list.
    body = struct.pack(">hhih", 3, 0, 1, len(client)) + client + struct.pack(">i", 0)
    with socket.create_connection((host, int(port)), timeout=2) as s:
        s.settimeout(2)
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", recv(s, 4))[0]
        data = recv(s, size)
    pos = 4  # correlation id
    (n,) = struct.unpack_from(">i", data, pos)
    pos += 4
    ids = []
    for _ in range(n):
        (node,) = struct.unpack_from(">i", data, pos)
        pos += 4
        (hlen,) = struct.unpack_from(">h", data, pos)
        pos += 2 + hlen + 4
        ids.append(node)
    print(" ".join(str(i) for i in sorted(ids)))


def recv(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as e:  # noqa: BLE001 - any failure means "not ready"
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
