#!/usr/bin/env python3
"""Ask a dev service a real question: Kafka Metadata, or MongoDB ping.

Usage: probe.py kafka HOST:PORT | probe.py kafka-sasl HOST:PORT | probe.py mongodb HOST:PORT
kafka-sasl asks the same Metadata over TLS (verified against the CA file in
EVENTFLOW_KAFKA_SASL_CA) after a SASL SCRAM-SHA-512 login as EVENTFLOW_KAFKA_SASL_USERNAME with
the password in the file EVENTFLOW_KAFKA_SASL_PASSWORD_FILE (never on a command line).
Exit 0 when the service answered correctly, 1 (with the reason on stderr) otherwise.
Standard library only, so it runs before anything else is installed.
"""
import base64
import hashlib
import hmac
import os
import secrets
import socket
import ssl
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


def kafka_request(sock, api_key, version, payload):
    """One request (header v1) and its answer's body, checked against our correlation id."""
    client_id = b"eventflow-probe"
    correlation_id = 0x0E7F + api_key
    body = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(body) + len(payload)) + body + payload)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    reply = recv_exact(sock, size)
    got_id = struct.unpack(">i", reply[:4])[0]
    if got_id != correlation_id:
        raise ValueError(f"correlation id {got_id} != {correlation_id}")
    return reply[4:]


def metadata(sock):
    """Metadata v0 for all topics (empty array); the answer must list >= 1 broker."""
    brokers = struct.unpack(">i", kafka_request(sock, 3, 0, struct.pack(">i", 0))[:4])[0]
    if brokers < 1:
        raise ValueError("metadata lists no broker")
    return f"{brokers} broker(s)"


def kafka_metadata(host, port):
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        return metadata(sock)


def sasl_authenticate(sock, message):
    """SaslAuthenticate v0: sends `message`, returns the server's bytes or raises its error."""
    reply = kafka_request(sock, 36, 0, struct.pack(">i", len(message)) + message)
    error_code, text_len = struct.unpack(">hh", reply[:4])
    text = reply[4:4 + max(text_len, 0)].decode()
    if error_code != 0:
        raise ValueError(f"SASL authentication failed (error {error_code}): {text}")
    rest = reply[4 + max(text_len, 0):]
    return rest[4:4 + struct.unpack(">i", rest[:4])[0]]


def scram_sha512_login(sock, username, password):
    """RFC 5802 over SaslHandshake v1 + SaslAuthenticate; checks the server's signature too."""
    mechanism = b"SCRAM-SHA-512"
    handshake = kafka_request(sock, 17, 1, struct.pack(">h", len(mechanism)) + mechanism)
    if struct.unpack(">h", handshake[:2])[0] != 0:
        raise ValueError("the listener does not offer SCRAM-SHA-512")
    first_bare = f"n={username},r={secrets.token_urlsafe(18)}"
    server_first = sasl_authenticate(sock, f"n,,{first_bare}".encode()).decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    mac = lambda key, text: hmac.new(key, text.encode() if isinstance(text, str) else text, "sha512").digest()
    client_key = mac(salted, "Client Key")
    final_bare = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{final_bare}"
    signature = mac(hashlib.sha512(client_key).digest(), auth_message)
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature))).decode()
    server_final = sasl_authenticate(sock, f"{final_bare},p={proof}".encode()).decode()
    expected = base64.b64encode(mac(mac(salted, "Server Key"), auth_message)).decode()
    if server_final != f"v={expected}":
        raise ValueError("the server's SCRAM signature does not match")


def kafka_sasl_metadata(host, port):
    """TLS verified against the dev CA (host name included), SCRAM login, then Metadata."""
    context = ssl.create_default_context(cafile=os.environ["EVENTFLOW_KAFKA_SASL_CA"])
    with open(os.environ["EVENTFLOW_KAFKA_SASL_PASSWORD_FILE"]) as file:
        password = file.read().strip()
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=host) as sock:
            scram_sha512_login(sock, os.environ["EVENTFLOW_KAFKA_SASL_USERNAME"], password)
            return "SCRAM-SHA-512 login, " + metadata(sock)


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
    probes = {"kafka": kafka_metadata, "kafka-sasl": kafka_sasl_metadata, "mongodb": mongodb_ping}
    if len(sys.argv) != 3 or sys.argv[1] not in probes:
        print(__doc__, file=sys.stderr)
        return 2
    host, _, port = sys.argv[2].rpartition(":")
    try:
        print(probes[sys.argv[1]](host, int(port)))
        return 0
    except (OSError, ValueError, KeyError, struct.error) as error:
        print(f"{sys.argv[1]} at {sys.argv[2]} did not answer: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
