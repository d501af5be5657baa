"""Shared by the WebRTC (WHEP) integration tests: a config with `origin.webrtc`, a free
UDP port, a WHEP offer a browser would send, and STUN Binding requests written with the
standard library (hmac SHA-1, zlib CRC-32) to talk to the daemon's ICE-lite port."""

import hashlib
import hmac
import os
import re
import socket
import struct
import zlib

import harness as h

MAGIC = 0x2112A442
FINGERPRINT_XOR = 0x5354554E


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path, cameras, udp_port, token=None, webrtc=None):
    """Mapping form: no storage, the origin on a free loopback port, origin.webrtc."""
    lines = ["# written by tests/integration/webrtc_harness.py", "storage: []", "origin:",
             "  listen: 127.0.0.1:0"]
    if token:
        lines.append(f"  token: {h._yaml_scalar(token)}")
    lines += ["  webrtc:", f"    udp_port: {udp_port}"]
    for k, v in (webrtc or {}).items():
        lines.append(f"    {k}: {h._yaml_scalar(v)}")
    lines.append("cameras:")
    for cam in cameras:
        lines += h._camera_yaml(cam, 2)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    h.LOG_FILES.append(("config " + os.path.basename(path), path))
    return path


def offer(ufrag="tUfr", pwd="abcdefghijklmnopqrstuvwx", video_codec="H264", mode=1,
          profile="42e01f", fingerprint=None):
    """A recvonly video offer shaped like Chromium's (abridged)."""
    fp = fingerprint or ":".join(f"{b:02X}" for b in hashlib.sha256(b"x").digest())
    if video_codec == "H264":
        rtpmap = (f"a=rtpmap:106 H264/90000\r\n"
                  f"a=fmtp:106 level-asymmetry-allowed=1;packetization-mode={mode};"
                  f"profile-level-id={profile}\r\n")
    else:
        rtpmap = f"a=rtpmap:106 {video_codec}/90000\r\n"
    return ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
            "m=video 9 UDP/TLS/RTP/SAVPF 106\r\nc=IN IP4 0.0.0.0\r\n"
            f"a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\n"
            f"a=fingerprint:sha-256 {fp}\r\na=setup:actpass\r\na=mid:0\r\na=recvonly\r\n"
            "a=rtcp-mux\r\n" + rtpmap)


def answer_fields(sdp):
    """(ufrag, pwd, [(ip, port)]) of an answer."""
    ufrag = re.search(r"a=ice-ufrag:(\S+)", sdp).group(1)
    pwd = re.search(r"a=ice-pwd:(\S+)", sdp).group(1)
    cands = [(m.group(1), int(m.group(2)))
             for m in re.finditer(r"a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host", sdp)]
    return ufrag, pwd, cands


def stun_request(username, pwd, txid=None, use_candidate=True):
    """RFC 8489 Binding request with USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
    MESSAGE-INTEGRITY (keyed with pwd) and FINGERPRINT."""
    txid = txid or os.urandom(12)
    u = username.encode()
    attrs = struct.pack("!HH", 0x0006, len(u)) + u + b"\0" * ((4 - len(u) % 4) % 4)
    attrs += struct.pack("!HHI", 0x0024, 4, 0x6E7F1EFF)
    attrs += struct.pack("!HH", 0x802A, 8) + os.urandom(8)
    if use_candidate:
        attrs += struct.pack("!HH", 0x0025, 0)
    head = struct.pack("!HHI", 0x0001, len(attrs) + 24, MAGIC) + txid
    mac = hmac.new(pwd.encode(), head + attrs, hashlib.sha1).digest()
    attrs += struct.pack("!HH", 0x0008, 20) + mac
    head = struct.pack("!HHI", 0x0001, len(attrs) + 8, MAGIC) + txid
    crc = (zlib.crc32(head + attrs) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
    attrs += struct.pack("!HHI", 0x8028, 4, crc)
    return txid, head + attrs


def parse_stun_response(data, pwd):
    """{type, txid, mapped: (ip, port), integrity_ok, fingerprint_ok} of a Binding response."""
    typ, length, magic = struct.unpack("!HHI", data[:8])
    out = {"type": typ, "txid": data[8:20], "mapped": None, "integrity_ok": False,
           "fingerprint_ok": False}
    at = 20
    while at + 4 <= len(data):
        t, n = struct.unpack("!HH", data[at:at + 4])
        v = data[at + 4:at + 4 + n]
        if t == 0x0020:
            port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
            ip = struct.unpack("!I", v[4:8])[0] ^ MAGIC
            out["mapped"] = (socket.inet_ntoa(struct.pack("!I", ip)), port)
        elif t == 0x0008:
            head = data[:2] + struct.pack("!H", at + 24 - 20) + data[4:20]
            mac = hmac.new(pwd.encode(), head + data[20:at], hashlib.sha1).digest()
            out["integrity_ok"] = hmac.compare_digest(mac, v)
        elif t == 0x8028:
            crc = (zlib.crc32(data[:at]) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
            out["fingerprint_ok"] = struct.unpack("!I", v)[0] == crc
        at += 4 + n + ((4 - n % 4) % 4)
    return out


def _headers(msg):
    """Lower-cased names; a header sent more than once has its values joined by newlines."""
    out = {}
    for k, v in msg.items():
        k = k.lower()
        out[k] = f"{out[k]}\n{v}" if k in out else v
    return out


def request(url, headers=None, method="GET", data=None, timeout=10.0):
    """(status, headers dict lower-cased, body bytes); never raises for HTTP statuses."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, _headers(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, _headers(e.headers), e.read()
