#!/usr/bin/env python3
"""Ask a dev service a real question: Kafka Metadata, or MongoDB ping.

Usage: probe.py kafka HOST:PORT | probe.py mongodb HOST:PORT
Exit 0 when the service answered correctly, 1 (with the reason on stderr) otherwise.
Standard library only, so it runs before anything else is installed.
"""
import socket
import struct
import sys

TIMEOUT = 3.0


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the server")
        data += chunk
    return data


def kafka_metadata(host, port):
    """Metadata v0 for all topics; the answer must carry our correlation id and >= 1 broker."""
    client_id = b"eventflow-probe"
    correlation_id = 0x0E7F
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", 0)  # topics: empty array = all topics
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", recv_exact(sock, 4))[0]
        reply = recv_exact(sock, size)
    got_id, brokers = struct.unpack(">ii", reply[:8])
    if got_id != correlation_id:
        raise ValueError(f"correlation id {got_id} != {correlation_id}")
    if brokers < 1:
        raise ValueError("metadata lists no broker")
    return f"{brokers} broker(s)"


def bson_doc(pairs):
    out = b""
    for key, value in pairs:
        name = key.encode() + b"\x00"
        if isinstance(value, int):
            out += b"\x10" + name + struct.pack("<i", value)
        else:
            encoded = value.encode() + b"\x00"
            out += b"\x02" + name + struct.pack("<i", len(encoded)) + encoded
    return struct.pack("<i", len(out) + 5) + out + b"\x00"


def mongodb_ping(host, port):
    """OP_MSG {ping: 1, $db: admin}; the reply must be an OP_MSG with ok: 1."""
    doc = bson_doc([("ping", 1), ("$db", "admin")])
    payload = struct.pack("<I", 0) + b"\x00" + doc  # flags, section kind 0, body
    header = struct.pack("<iiii", 16 + len(payload), 7, 0, 2013)
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(header + payload)
        length = struct.unpack("<i", recv_exact(sock, 4))[0]
        reply = recv_exact(sock, length - 4)
    _, response_to, opcode = struct.unpack("<iii", reply[:12])
    if opcode != 2013 or response_to != 7:
        raise ValueError(f"unexpected reply opcode={opcode} responseTo={response_to}")
    body = reply[12 + 4 + 1:]
    # ok is a double (0x01) or an int32 (0x10) named "ok".
    if b"\x01ok\x00" + struct.pack("<d", 1.0) in body or b"\x10ok\x00" + struct.pack("<i", 1) in body:
        return "ping ok"
    raise ValueError("ping reply without ok: 1")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("kafka", "mongodb"):
        print(__doc__, file=sys.stderr)
        return 2
    host, _, port = sys.argv[2].rpartition(":")
    probe = kafka_metadata if sys.argv[1] == "kafka" else mongodb_ping
    try:
        print(probe(host, int(port)))
        return 0
    except (OSError, ValueError, struct.error) as error:
        print(f"{sys.argv[1]} at {sys.argv[2]} did not answer: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
