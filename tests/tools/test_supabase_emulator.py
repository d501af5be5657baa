#!/usr/bin/env python3
"""Tests for tests/tools/supabase_emulator.py (standard library only).

Starts the emulator as a subprocess on a free port and checks every behaviour it claims:
status codes, JSON bodies and headers as ../shared/reference/supabase-storage-api.md
describes them, and each fault type. Run: python3 tests/tools/test_supabase_emulator.py
(exits non-zero on failure; takes well under a minute).
"""

import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import uuid
from email.utils import parsedate_to_datetime

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "supabase_emulator.py")
KEY = "test-service-key-" + uuid.uuid4().hex
ANON = "test-anon-key-" + uuid.uuid4().hex
ALLOWED = "video/mp2t,application/vnd.apple.mpegurl"
LIMIT = 1000000  # --file-size-limit 1MB (1000-based, as the server parses it)

EMU = {}


def start_emulator(*extra, control=True):
    cmd = [sys.executable, EMULATOR, "--port", "0", "--service-key", KEY, "--anon-key", ANON]
    if control:
        cmd += ["--control-port", "0"]
    cmd += list(extra)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info = {"proc": proc, "lines": []}
    deadline = time.time() + 10
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("emulator exited: %s" % proc.stderr.read())
        line = line.rstrip("\n")
        info["lines"].append(line)
        if line.startswith("control "):
            info["control"] = line.split(" ", 1)[1]
        if line.startswith("ready "):
            info["ready_line"] = line
            url = line.split(" ", 1)[1]
            m = re.match(r"^http://127\.0\.0\.1:(\d+)$", url)
            info["port"] = int(m.group(1))
            break
    return info


def stop_emulator(info):
    proc = info["proc"]
    proc.terminate()
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    info["stdout_rest"], info["stderr"] = out, err
    return proc.returncode


def setUpModule():
    EMU.update(start_emulator("--bucket", "streams", "--public", "--allowed-mime", ALLOWED,
                              "--file-size-limit", "1MB", "--seed", "7"))
    EMU["cport"] = int(EMU["control"].rsplit(":", 1)[1])


def tearDownModule():
    if EMU:
        stop_emulator(EMU)


# ---- HTTP helpers ----------------------------------------------------------------------

class Resp:
    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.headers = headers
        self.body = body
        self.reason = reason

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def h(self, name):
        return self.headers.get(name.lower())


def request(method, path, body=None, headers=None, port=None, auth=True, timeout=5, conn=None):
    port = port or EMU["port"]
    hdrs = {}
    if auth is True:
        hdrs["Authorization"] = "Bearer " + KEY
    elif auth:
        hdrs["Authorization"] = auth
    hdrs.update(headers or {})
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.reason)
    finally:
        if own:
            c.close()


def control(method, path, body=None, port=None):
    r = request(method, "/__control/" + path, body=body, port=port or EMU["cport"], auth=False)
    assert r.status == 200, (path, r.status, r.body)
    return r.json()


def obj_path(name, bucket="streams"):
    return "/storage/v1/object/%s/%s" % (bucket, name)


def public_path(name, bucket="streams"):
    return "/storage/v1/object/public/%s/%s" % (bucket, name)


def upload(name, data=b"data", ctype="video/mp2t", cache=None, method="POST", upsert=None,
           bucket="streams", auth=True, extra=None):
    h = {}
    if ctype is not None:
        h["Content-Type"] = ctype
    if cache is not None:
        h["Cache-Control"] = cache
    if upsert is not None:
        h["x-upsert"] = upsert
    h.update(extra or {})
    return request(method, obj_path(name, bucket), body=data, headers=h, auth=auth)


def raw_exchange(port, head, body=b"", read_timeout=3.0, wait_before_body=None):
    """Send bytes over a raw socket and return everything read until close/timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(head)
        out = b""
        if wait_before_body is not None:
            s.settimeout(wait_before_body)
            try:
                out += s.recv(65536)
            except socket.timeout:
                pass
            s.settimeout(read_timeout)
        if body:
            try:
                s.sendall(body)
            except OSError:
                pass
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
                if b"\r\n\r\n" in out and b"Connection: keep-alive" in out:
                    hdr, _, rest = out.partition(b"\r\n\r\n")
                    m = re.search(rb"Content-Length: (\d+)", hdr)
                    if m and len(rest) >= int(m.group(1)) and not hdr.startswith(b"HTTP/1.1 100"):
                        break
        except (socket.timeout, ConnectionResetError):
            pass
        return out
    finally:
        s.close()


def envelope(r):
    body = r.json()
    return body["statusCode"], body["error"], body["code"], body["message"]


class Base(unittest.TestCase):
    def setUp(self):
        control("POST", "reset", {})

    def assertEnvelope(self, r, http_status, body_status, code, error=None, message=None):
        self.assertEqual(r.status, http_status, r.body)
        self.assertEqual(r.h("content-type"), "application/json; charset=utf-8")
        body = r.json()
        self.assertEqual(list(body.keys()), ["statusCode", "error", "code", "message"])
        self.assertEqual(body["statusCode"], body_status)
        self.assertEqual(body["code"], code)
        if error is not None:
            self.assertEqual(body["error"], error)
        if message is not None:
            self.assertEqual(body["message"], message)


# ---- uploads ---------------------------------------------------------------------------

class UploadTests(Base):
    def test_post_creates(self):
        r = upload("loc/cam/seg1.ts", b"\x47" * 188)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.h("content-type"), "application/json; charset=utf-8")
        body = r.json()
        self.assertEqual(list(body.keys()), ["Key", "Id"])
        self.assertEqual(body["Key"], "streams/loc/cam/seg1.ts")
        uuid.UUID(body["Id"])

    def test_post_existing_without_upsert_is_409_in_400(self):
        self.assertEqual(upload("a.ts", b"one").status, 200)
        r = upload("a.ts", b"two")
        self.assertEnvelope(r, 400, "409", "KeyAlreadyExists", "Duplicate",
                            "The resource already exists")
        # Only the exact string 'true' means upsert.
        for v in ("True", "1", "yes", "true "):
            r = upload("a.ts", b"two", upsert=v)
            self.assertEqual(json.loads(r.body)["code"], "KeyAlreadyExists", v)
        self.assertEqual(request("GET", public_path("a.ts"), auth=False).body, b"one")

    def test_post_upsert_true_overwrites_and_keeps_id(self):
        first = upload("b.ts", b"one").json()["Id"]
        r = upload("b.ts", b"two", upsert="true")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"Key": "streams/b.ts", "Id": first})
        self.assertEqual(request("GET", public_path("b.ts"), auth=False).body, b"two")

    def test_put_always_upserts(self):
        r = upload("c.m3u8", b"#EXTM3U\n", ctype="application/vnd.apple.mpegurl", method="PUT")
        self.assertEqual(r.status, 200)
        r = upload("c.m3u8", b"#EXTM3U\n#2\n", ctype="application/vnd.apple.mpegurl", method="PUT")
        self.assertEqual(r.status, 200)
        self.assertEqual(request("GET", public_path("c.m3u8"), auth=False).body, b"#EXTM3U\n#2\n")

    def test_defaults_and_verbatim_headers(self):
        control("POST", "buckets", {"name": "open", "public": True})
        try:
            self.assertEqual(upload("raw.bin", b"x", ctype=None, bucket="open").status, 200)
            g = request("GET", public_path("raw.bin", "open"), auth=False)
            self.assertEqual(g.h("content-type"), "application/octet-stream")
            self.assertEqual(g.h("cache-control"), "no-cache")
            cc = "public, max-age=31536000, immutable"
            upload("seg.ts", b"y", cache=cc, bucket="open")
            self.assertEqual(request("GET", public_path("seg.ts", "open"),
                                     auth=False).h("cache-control"), cc)
        finally:
            request("DELETE", "/__control/buckets/open", port=EMU["cport"], auth=False)

    def test_missing_bucket(self):
        r = upload("x.ts", b"x", bucket="nosuch")
        self.assertEnvelope(r, 400, "404", "NoSuchBucket", "Bucket not found", "Bucket not found")

    def test_invalid_key(self):
        for raw, decoded in (("a%7Bb%7D.ts", "a{b}.ts"), ("caf%C3%A9.ts", "café.ts"),
                             ("x%25.ts", "x%.ts")):
            r = upload(raw, b"x")
            self.assertEnvelope(r, 400, "400", "InvalidKey", message="Invalid key: " + decoded)
        # Every character of the doc's regex is accepted.
        ok = "A-z_0/9!.*'() &$=@;:+,?-.ts".replace(" ", "%20").replace("?", "%3F")
        self.assertEqual(upload(ok, b"x").status, 200)

    def test_mime_types(self):
        self.assertEqual(upload("ok.ts", b"x", ctype="video/mp2t").status, 200)
        r = upload("p.m3u8", b"x", ctype="application/vnd.apple.mpegurl; charset=utf-8")
        self.assertEnvelope(r, 400, "415", "InvalidMimeType", "invalid_mime_type",
                            "mime type application/vnd.apple.mpegurl; charset=utf-8 is not supported")
        r = upload("n.ts", b"x", ctype=None)
        self.assertEnvelope(r, 400, "415", "InvalidMimeType",
                            message="mime type application/octet-stream is not supported")
        r = upload("case.ts", b"x", ctype="Video/MP2T")
        self.assertEnvelope(r, 400, "415", "InvalidMimeType")
        control("POST", "buckets", {"name": "wild", "public": True,
                                    "allowed_mime_types": ["video/*"]})
        try:
            self.assertEqual(upload("s.m4s", b"x", ctype="video/iso.segment",
                                    bucket="wild").status, 200)
            r = upload("s.m3u8", b"x", ctype="application/vnd.apple.mpegurl", bucket="wild")
            self.assertEnvelope(r, 400, "415", "InvalidMimeType")
        finally:
            request("DELETE", "/__control/buckets/wild", port=EMU["cport"], auth=False)

    def test_size_limit_content_length_refused_before_body(self):
        self.assertEqual(upload("max.ts", b"\0" * LIMIT).status, 200)
        r = upload("over.ts", b"\0" * (LIMIT + 1))
        self.assertEnvelope(r, 400, "413", "EntityTooLarge", "Payload too large",
                            "The object exceeded the maximum allowed size")
        # The answer comes before any body byte is sent.
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: video/mp2t\r\nContent-Length: 500000000\r\n\r\n"
                % (obj_path("huge.ts"), KEY)).encode()
        t0 = time.time()
        out = raw_exchange(EMU["port"], head, read_timeout=3)
        self.assertLess(time.time() - t0, 2.9)
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:200])
        self.assertIn(b"Connection: close", out)
        self.assertIn(b'"code":"EntityTooLarge"', out)
        st = control("GET", "stats")
        self.assertNotIn("streams/huge.ts", [w["name"] for w in st["write_log"]])

    def test_size_limit_chunked(self):
        def gen(n):
            sent = 0
            while sent < n:
                k = min(65536, n - sent)
                sent += k
                yield b"\1" * k
        c = http.client.HTTPConnection("127.0.0.1", EMU["port"], timeout=5)
        try:
            c.request("POST", obj_path("chunked-over.ts"), body=gen(LIMIT + 100000),
                      headers={"Authorization": "Bearer " + KEY, "Content-Type": "video/mp2t"},
                      encode_chunked=True)
            r = c.getresponse()
            body = json.loads(r.read())
        except (BrokenPipeError, ConnectionResetError):
            self.fail("the emulator should answer before closing")
        finally:
            c.close()
        self.assertEqual(r.status, 400)
        self.assertEqual(body["code"], "EntityTooLarge")

    def test_chunked_body(self):
        data = os.urandom(300000)
        c = http.client.HTTPConnection("127.0.0.1", EMU["port"], timeout=5)
        try:
            c.request("POST", obj_path("chunked.ts"),
                      body=iter([data[:1000], data[1000:200000], data[200000:]]),
                      headers={"Authorization": "Bearer " + KEY, "Content-Type": "video/mp2t"},
                      encode_chunked=True)
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            # Keep-alive: the same connection serves the next request.
            c.request("GET", public_path("chunked.ts"))
            r2 = c.getresponse()
            self.assertEqual(r2.read(), data)
        finally:
            c.close()

    def test_keep_alive_one_connection(self):
        before = control("GET", "stats")["connections_accepted"]
        c = http.client.HTTPConnection("127.0.0.1", EMU["port"], timeout=5)
        try:
            for i in range(5):
                r = request("POST", obj_path("k%d.ts" % i), body=b"x",
                            headers={"Content-Type": "video/mp2t"}, conn=c)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.h("connection"), "keep-alive")
            # An error answer keeps the connection too (the body is read).
            r = request("POST", obj_path("k0.ts"), body=b"x", headers={"Content-Type": "video/mp2t"},
                        conn=c)
            self.assertEqual(r.status, 400)
            r = request("POST", obj_path("k9.ts"), body=b"x" * 5000, auth="Bearer wrong",
                        headers={"Content-Type": "video/mp2t"}, conn=c)
            self.assertEqual(r.status, 400)
            r = request("GET", public_path("k4.ts"), auth=False, conn=c)
            self.assertEqual(r.status, 200)
        finally:
            c.close()
        self.assertEqual(control("GET", "stats")["connections_accepted"], before + 1)

    def test_expect_100_continue(self):
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: video/mp2t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
                % (obj_path("expect.ts"), KEY)).encode()
        out = raw_exchange(EMU["port"], head, b"hello", wait_before_body=1.0)
        self.assertTrue(out.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), out[:100])
        self.assertIn(b"HTTP/1.1 200 OK", out)
        # Refused up front: the final answer, no 100.
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: video/mp2t\r\nContent-Length: 9999999\r\nExpect: 100-continue\r\n\r\n"
                % (obj_path("expect2.ts"), KEY)).encode()
        out = raw_exchange(EMU["port"], head, wait_before_body=1.0)
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:100])
        self.assertNotIn(b"100 Continue", out)

    def test_multipart_form(self):
        boundary = "----edgestream" + uuid.uuid4().hex
        parts = [
            '--%s\r\nContent-Disposition: form-data; name="cacheControl"\r\n\r\n3600\r\n' % boundary,
            '--%s\r\nContent-Disposition: form-data; name=""; filename="x.ts"\r\n'
            'Content-Type: video/mp2t\r\n\r\n' % boundary,
        ]
        body = "".join(parts).encode() + b"\x47\x00\x01" + ("\r\n--%s--\r\n" % boundary).encode()
        r = request("POST", obj_path("form.ts"), body=body,
                    headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
        self.assertEqual(r.status, 200, r.body)
        g = request("GET", public_path("form.ts"), auth=False)
        self.assertEqual(g.body, b"\x47\x00\x01")
        self.assertEqual(g.h("cache-control"), "max-age=3600")
        self.assertEqual(g.h("content-type"), "video/mp2t")


# ---- auth ------------------------------------------------------------------------------

class AuthTests(Base):
    def test_missing_and_wrong_key(self):
        for auth in (False, "Bearer nope", "Bearer a.b.c", "Basic " + KEY):
            r = upload("x.ts", b"x", auth=auth)
            self.assertEnvelope(r, 400, "403", "AccessDenied", "Unauthorized")
        self.assertEqual(upload("x.ts", b"x", auth=False).json()["message"], "Invalid Compact JWS")
        self.assertEqual(upload("x.ts", b"x", auth="Bearer a.b.c").json()["message"],
                         "signature verification failed")
        self.assertEqual(upload("x.ts", b"x", auth="bearer " + KEY).status, 200)

    def test_anon_is_read_only(self):
        upload("r.ts", b"data")
        r = upload("w.ts", b"x", auth="Bearer " + ANON)
        self.assertEnvelope(r, 400, "403", "AccessDenied", "Unauthorized",
                            "new row violates row-level security policy")
        g = request("GET", obj_path("r.ts"), auth="Bearer " + ANON)
        self.assertEqual((g.status, g.body), (200, b"data"))
        d = request("DELETE", "/storage/v1/object/streams", body={"prefixes": ["r.ts"]},
                    auth="Bearer " + ANON)
        self.assertEqual((d.status, d.json()), (200, []))
        self.assertEqual(request("GET", public_path("r.ts"), auth=False).status, 200)

    def test_apikey_gateway(self):
        ok = upload("g.ts", b"x", extra={"apikey": KEY})
        self.assertEqual(ok.status, 200)
        r = upload("g2.ts", b"x", extra={"apikey": "wrong"})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["message"], "Invalid API key")
        # Public reads do not go through the key check.
        self.assertEqual(request("GET", public_path("g.ts"), auth=False,
                                 headers={"apikey": "wrong"}).status, 200)

    def test_secret_key_rules(self):
        secret = "sb_secret_" + uuid.uuid4().hex
        control("POST", "keys", {"service_key": secret})
        try:
            r = upload("s.ts", b"x", auth="Bearer " + secret)
            self.assertEnvelope(r, 400, "403", "AccessDenied")
            r = upload("s.ts", b"x", auth="Bearer " + secret, extra={"apikey": secret})
            self.assertEqual(r.status, 200)
            r = upload("s2.ts", b"x", auth="Bearer " + secret,
                       extra={"apikey": secret, "User-Agent": "Mozilla/5.0 (X11) Chrome/120"})
            self.assertEqual(r.status, 401)
        finally:
            control("POST", "keys", {"service_key": KEY})

    def test_authenticated_get(self):
        upload("auth.ts", b"abc")
        self.assertEqual(request("GET", obj_path("auth.ts")).body, b"abc")
        self.assertEqual(request("GET", "/storage/v1/object/authenticated/streams/auth.ts").body,
                         b"abc")
        r = request("GET", obj_path("auth.ts"), auth=False)
        self.assertEnvelope(r, 400, "403", "AccessDenied")
        r = request("GET", obj_path("none.ts"))
        self.assertEnvelope(r, 400, "404", "NoSuchKey", "not_found", "Object not found")
        h = request("HEAD", obj_path("auth.ts"))
        self.assertEqual((h.status, h.body, h.h("content-length")), (200, b"", "3"))


# ---- delete ----------------------------------------------------------------------------

class DeleteTests(Base):
    def test_bulk_delete_exact_names(self):
        for n in ("location_1/cam_floor/s1.ts", "location_1/cam_floor/s2.ts",
                  "location_1/cam_floor/stream.m3u8"):
            upload(n, b"x", ctype="video/mp2t")
        url = "/storage/v1/object/streams"
        r = request("DELETE", url, body={"prefixes": ["location_1/cam_floor"]})
        self.assertEqual((r.status, r.json()), (200, []))
        r = request("DELETE", url, body={"prefixes": ["location_1/cam_floor/s1.ts",
                                                      "location_1/cam_floor/s2.ts", "nope.ts"]})
        self.assertEqual(r.status, 200)
        rows = r.json()
        self.assertEqual(sorted(x["name"] for x in rows),
                         ["location_1/cam_floor/s1.ts", "location_1/cam_floor/s2.ts"])
        row = rows[0]
        self.assertEqual(row["bucket_id"], "streams")
        for k in ("id", "version", "created_at", "updated_at", "last_accessed_at", "metadata"):
            self.assertIn(k, row)
        self.assertEqual(row["metadata"]["mimetype"], "video/mp2t")
        self.assertEqual(row["metadata"]["eTag"], '"%s"' % hashlib.md5(b"x").hexdigest())
        r = request("DELETE", url, body={"prefixes": ["location_1/cam_floor/s1.ts"]})
        self.assertEqual((r.status, r.json()), (200, []))
        self.assertEqual(request("GET", public_path("location_1/cam_floor/stream.m3u8"),
                                 auth=False).status, 200)

    def test_bulk_delete_limits_and_validation(self):
        url = "/storage/v1/object/streams"
        r = request("DELETE", url, body={"prefixes": ["f%d.ts" % i for i in range(1001)]})
        self.assertEnvelope(r, 400, "400", "InvalidRequest",
                            message="Bulk object requests are limited to 1000 objects per request.")
        r = request("DELETE", url, body={"prefixes": ["f%d.ts" % i for i in range(1000)]})
        self.assertEqual((r.status, r.json()), (200, []))
        r = request("DELETE", url, body={"prefixes": []})
        self.assertEnvelope(r, 400, "400", "InvalidRequest")
        r = request("DELETE", url, body={})
        self.assertEnvelope(r, 400, "400", "InvalidRequest")
        r = request("DELETE", "/storage/v1/object/nosuch", body={"prefixes": ["a"]})
        self.assertEqual((r.status, r.json()), (200, []))
        r = request("DELETE", url, body={"prefixes": ["a"]}, auth=False)
        self.assertEnvelope(r, 400, "403", "AccessDenied")

    def test_single_delete(self):
        upload("one.ts", b"x")
        r = request("DELETE", obj_path("one.ts"))
        self.assertEqual((r.status, r.json()), (200, {"message": "Successfully deleted"}))
        r = request("DELETE", obj_path("one.ts"))
        self.assertEnvelope(r, 400, "404", "NoSuchKey", "not_found")
        self.assertEqual(request("GET", public_path("one.ts"), auth=False).status, 400)


# ---- list ------------------------------------------------------------------------------

class ListTests(Base):
    def test_folder_style_listing(self):
        for n in ("location_1/cam_floor/stream.m3u8", "location_1/cam_floor/seg_2.ts",
                  "location_1/cam_floor/seg_1.ts", "location_1/cam_floor/old/seg_0.ts",
                  "location_1/cam_door/seg_1.ts", "top.ts"):
            upload(n, b"x", ctype="application/vnd.apple.mpegurl" if n.endswith("m3u8")
                   else "video/mp2t")
        url = "/storage/v1/object/list/streams"
        r = request("POST", url, body={"prefix": "location_1/cam_floor", "limit": 100, "offset": 0,
                                       "sortBy": {"column": "name", "order": "asc"}})
        self.assertEqual(r.status, 200)
        rows = r.json()
        self.assertEqual([x["name"] for x in rows], ["old", "seg_1.ts", "seg_2.ts", "stream.m3u8"])
        self.assertEqual(rows[0], {"name": "old", "id": None, "updated_at": None,
                                   "created_at": None, "last_accessed_at": None, "metadata": None})
        self.assertIsNotNone(rows[1]["id"])
        self.assertEqual(rows[1]["metadata"]["size"], 1)
        self.assertEqual(rows[3]["metadata"]["mimetype"], "application/vnd.apple.mpegurl")
        names = lambda body: [x["name"] for x in request("POST", url, body=body).json()]
        self.assertEqual(names({"prefix": ""}), ["location_1", "top.ts"])
        self.assertEqual(names({"prefix": "location_1/"}), ["cam_door", "cam_floor"])
        self.assertEqual(names({"prefix": "location_1/cam_floor", "limit": 2, "offset": 1}),
                         ["seg_1.ts", "seg_2.ts"])
        self.assertEqual(names({"prefix": "location_1/cam_floor", "search": "SEG"}),
                         ["seg_1.ts", "seg_2.ts"])
        self.assertEqual(names({"prefix": "location_1/cam_floor",
                                "sortBy": {"column": "name", "order": "desc"}}),
                         ["old", "stream.m3u8", "seg_2.ts", "seg_1.ts"])
        r = request("POST", url, body={"limit": 1})
        self.assertEnvelope(r, 400, "400", "InvalidRequest")
        self.assertEqual(request("POST", "/storage/v1/object/list/nosuch",
                                 body={"prefix": ""}).json(), [])


# ---- public read -----------------------------------------------------------------------

class PublicReadTests(Base):
    def test_headers(self):
        data = b"\x47" * 376
        upload("p/seg.ts", data, cache="public, max-age=31536000, immutable")
        r = request("GET", public_path("p/seg.ts"), auth=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, data)
        self.assertEqual(r.h("cache-control"), "public, max-age=31536000, immutable")
        self.assertEqual(r.h("etag"), '"%s"' % hashlib.md5(data).hexdigest())
        self.assertEqual(r.h("content-type"), "video/mp2t")
        self.assertEqual(r.h("content-length"), str(len(data)))
        self.assertEqual(r.h("accept-ranges"), "bytes")
        self.assertEqual(r.h("x-robots-tag"), "none")
        lm = parsedate_to_datetime(r.h("last-modified")).timestamp()
        self.assertLess(abs(lm - time.time()), 5)
        h = request("HEAD", public_path("p/seg.ts"), auth=False)
        self.assertEqual(h.status, 200)
        self.assertEqual(h.body, b"")
        for k in ("cache-control", "etag", "content-type", "content-length", "accept-ranges",
                  "x-robots-tag", "last-modified"):
            self.assertEqual(h.h(k), r.h(k), k)

    def test_text_html_served_as_text_plain(self):
        control("POST", "buckets", {"name": "open", "public": True})
        try:
            upload("x.html", b"<b>x</b>", ctype="text/html; charset=utf-8", bucket="open")
            r = request("GET", public_path("x.html", "open"), auth=False)
            self.assertEqual(r.h("content-type"), "text/plain")
        finally:
            request("DELETE", "/__control/buckets/open", port=EMU["cport"], auth=False)

    def test_range(self):
        upload("r.ts", b"0123456789")
        r = request("GET", public_path("r.ts"), auth=False, headers={"Range": "bytes=2-5"})
        self.assertEqual((r.status, r.body, r.h("content-range"), r.h("content-length")),
                         (206, b"2345", "bytes 2-5/10", "4"))
        r = request("GET", public_path("r.ts"), auth=False, headers={"Range": "bytes=7-"})
        self.assertEqual((r.status, r.body), (206, b"789"))
        r = request("GET", public_path("r.ts"), auth=False, headers={"Range": "bytes=-3"})
        self.assertEqual((r.status, r.body, r.h("content-range")), (206, b"789", "bytes 7-9/10"))
        r = request("GET", public_path("r.ts"), auth=False, headers={"Range": "bytes=50-60"})
        self.assertEnvelope(r, 400, "416", "InvalidRange")

    def test_if_none_match(self):
        upload("pl.m3u8", b"#EXTM3U\n", ctype="application/vnd.apple.mpegurl", cache="no-cache")
        etag = request("GET", public_path("pl.m3u8"), auth=False).h("etag")
        r = request("GET", public_path("pl.m3u8"), auth=False, headers={"If-None-Match": etag})
        self.assertEqual((r.status, r.body), (304, b""))
        self.assertEqual(r.h("etag"), etag)
        self.assertEqual(r.h("cache-control"), "no-cache")
        r = request("GET", public_path("pl.m3u8"), auth=False, headers={"If-None-Match": '"old"'})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.h("cache-control"), "no-cache, stale-while-revalidate=30")
        upload("pl2.m3u8", b"#EXTM3U\n", ctype="application/vnd.apple.mpegurl",
               cache="max-age=1, stale-while-revalidate=30")
        r = request("GET", public_path("pl2.m3u8"), auth=False, headers={"If-None-Match": '"old"'})
        self.assertEqual(r.h("cache-control"), "max-age=1, stale-while-revalidate=30")
        # Without If-None-Match nothing is appended.
        r = request("GET", public_path("pl2.m3u8"), auth=False)
        self.assertEqual(r.h("cache-control"), "max-age=1, stale-while-revalidate=30")

    def test_missing_object_and_private_bucket(self):
        r = request("GET", public_path("nope.ts"), auth=False)
        self.assertEnvelope(r, 400, "404", "NoSuchKey", "not_found", "Object not found")
        r = request("HEAD", public_path("nope.ts"), auth=False)
        self.assertEqual((r.status, r.body), (400, b""))
        control("POST", "buckets", {"name": "priv", "public": False})
        try:
            upload("s.ts", b"x", bucket="priv")
            r = request("GET", public_path("s.ts", "priv"), auth=False)
            self.assertEnvelope(r, 400, "404", "NoSuchBucket", "Bucket not found")
            self.assertEqual(request("GET", obj_path("s.ts", "priv")).body, b"x")
        finally:
            request("DELETE", "/__control/buckets/priv", port=EMU["cport"], auth=False)


# ---- error envelope and other routes ---------------------------------------------------

class EnvelopeTests(Base):
    def test_status_faults_render_like_the_server(self):
        control("POST", "faults", {"next": ["429", "544", "500", "envelope:LockTimeout",
                                            "envelope:ResourceLocked", "envelope:DatabaseReadOnly",
                                            "503"]})
        r = upload("e.ts", b"x")
        self.assertEnvelope(r, 429, "429", "SlowDown", "too_many_connections")
        r = upload("e.ts", b"x")
        self.assertEnvelope(r, 544, "544", "DatabaseTimeout")
        r = upload("e.ts", b"x")
        self.assertEnvelope(r, 500, "500", "InternalError")
        r = upload("e.ts", b"x")
        self.assertEnvelope(r, 400, "503", "LockTimeout", "acquiring_lock_timeout")
        r = upload("e.ts", b"x")
        self.assertEnvelope(r, 400, "423", "ResourceLocked")
        r = upload("e.ts", b"x")
        self.assertEnvelope(r, 400, "503", "DatabaseReadOnly")
        r = upload("e.ts", b"x")
        self.assertEqual(r.status, 503)
        self.assertEqual(upload("e.ts", b"x").status, 200)

    def test_role_enforcement_is_a_real_403(self):
        r = request("DELETE", "/storage/v1/cdn/streams/a.m3u8", auth="Bearer " + ANON)
        self.assertEnvelope(r, 403, "403", "AccessDenied", "Unauthorized")
        r = request("DELETE", "/storage/v1/cdn/streams/a.m3u8")
        self.assertEqual((r.status, r.json()), (200, {"message": "success"}))

    def test_unknown_and_uncovered_routes(self):
        r = request("POST", "/storage/v1/upload/resumable", body=b"")
        self.assertEqual(r.status, 501)
        self.assertEqual(r.json()["code"], "NotImplemented")
        r = request("POST", "/storage/v1/object/sign/streams/a.ts", body={"expiresIn": 60})
        self.assertEqual(r.status, 501)
        r = request("GET", "/storage/v1/nothing")
        self.assertEqual((r.status, r.json()["error"]), (404, "Not Found"))
        r = request("GET", "/functions/v1/x")
        self.assertEqual((r.status, r.json()), (404, {"message": "no Route matched with those values"}))


# ---- the PostgREST stand-in (postgrest_standin.py) under /rest/v1 --------------------------

def rest(method, path, body=None, key=KEY, prefer=None):
    headers = {"apikey": key}
    if prefer:
        headers["Prefer"] = prefer
    return request(method, "/rest/v1/" + path, body=body, headers=headers, auth="Bearer " + key)


CAM_ROW = {"camera_key": "cam_a", "name": "A", "stream_url": "https://x/s.m3u8", "status": "active"}


class RestTests(Base):
    def test_upsert_creates_then_merges_only_the_columns_named(self):
        r = rest("POST", "cameras?on_conflict=camera_key", dict(CAM_ROW, latency_ms=40),
                 prefer="resolution=merge-duplicates")
        self.assertEqual((r.status, r.body), (201, b""))
        r = rest("POST", "cameras?on_conflict=camera_key", {"camera_key": "cam_a", "name": "A",
                 "stream_url": "https://x/s.m3u8", "status": "offline"},
                 prefer="resolution=merge-duplicates,return=representation")
        self.assertEqual(r.status, 201)
        rows = control("GET", "rest")["rows"]
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows[0]["status"], rows[0]["latency_ms"], rows[0]["is_active"]),
                         ("offline", 40, True))
        self.assertEqual(r.json()[0]["status"], "offline")

    def test_duplicates_without_a_resolution_conflict(self):
        self.assertEqual(rest("POST", "cameras", CAM_ROW).status, 201)
        r = rest("POST", "cameras?on_conflict=camera_key", CAM_ROW)
        self.assertEqual((r.status, r.json()["code"]), (409, "23505"))

    def test_constraints_columns_and_roles(self):
        r = rest("POST", "cameras?on_conflict=camera_key", dict(CAM_ROW, status="exploded"))
        self.assertEqual((r.status, r.json()["code"]), (400, "23514"))
        r = rest("POST", "cameras?on_conflict=camera_key", dict(CAM_ROW, colour="red"))
        self.assertEqual((r.status, r.json()["code"]), (400, "PGRST204"))
        r = rest("POST", "cameras?on_conflict=name", CAM_ROW)
        self.assertEqual((r.status, r.json()["code"]), (400, "42P10"))
        r = rest("POST", "cameras?on_conflict=camera_key", CAM_ROW, key=ANON)
        self.assertEqual((r.status, r.json()["code"]), (401, "42501"))
        r = rest("POST", "cameras", CAM_ROW, key="not-a-key")
        self.assertEqual((r.status, r.json()["message"]), (401, "Invalid API key"))
        r = rest("GET", "nothing")
        self.assertEqual((r.status, r.json()["code"]), (404, "PGRST205"))
        self.assertEqual(control("GET", "rest")["rows"], [])

    def test_anon_reads_active_rows_and_a_future_last_seen_is_clamped(self):
        rest("POST", "cameras", [dict(CAM_ROW, is_active=True, last_seen_at="2099-01-01T00:00:00Z"),
                                 dict(CAM_ROW, camera_key="cam_b", is_active=False,
                                      last_seen_at="2026-01-01T00:00:00Z")])
        r = rest("GET", "cameras?select=camera_key,last_seen_at&is_active=eq.true", key=ANON)
        self.assertEqual(r.status, 200)
        self.assertEqual([x["camera_key"] for x in r.json()], ["cam_a"])
        self.assertLess(r.json()[0]["last_seen_at"], "2099")
        self.assertEqual(len(rest("GET", "cameras").json()), 2)

    def test_told_to_fail(self):
        control("POST", "rest/fail", {"status": 503, "count": 1})
        self.assertEqual(rest("POST", "cameras", CAM_ROW).status, 503)
        self.assertEqual(rest("POST", "cameras", CAM_ROW).status, 201)
        # Storage statistics leave REST requests out.
        self.assertEqual(control("GET", "stats")["routes"], {})


# ---- faults ----------------------------------------------------------------------------

class FaultTests(Base):
    def test_latency_and_jitter(self):
        control("POST", "faults", {"latency_ms": 250, "jitter_ms": 100})
        t0 = time.time()
        self.assertEqual(upload("l.ts", b"x").status, 200)
        dt = time.time() - t0
        self.assertGreaterEqual(dt, 0.25)
        self.assertLess(dt, 1.0)
        self.assertEqual(control("GET", "stats")["faults_injected"]["latency"], 1)

    def test_error_rates(self):
        control("POST", "faults", {"error_rates": {"503": 0.5}})
        c = http.client.HTTPConnection("127.0.0.1", EMU["port"], timeout=5)
        codes = [request("GET", public_path("nope.ts"), auth=False, conn=c).status
                 for _ in range(200)]
        c.close()
        n503 = codes.count(503)
        self.assertTrue(60 <= n503 <= 140, n503)
        self.assertEqual(codes.count(400), 200 - n503)
        # Rates sum to at most one, and the spec is checked.
        r = request("POST", "/__control/faults", body={"error_rates": {"503": 0.7, "429": 0.5}},
                    port=EMU["cport"], auth=False)
        self.assertEqual(r.status, 400)
        r = request("POST", "/__control/faults", body={"bogus": 1}, port=EMU["cport"], auth=False)
        self.assertEqual(r.status, 400)

    def test_filters_and_runtime_patch(self):
        upload("f.ts", b"x")
        control("POST", "faults", {"error_rates": {"503": 1.0}, "methods": ["POST", "PUT"]})
        self.assertEqual(upload("f2.ts", b"x").status, 503)
        self.assertEqual(request("GET", public_path("f.ts"), auth=False).status, 200)
        f = control("PATCH", "faults", {"latency_ms": 10})
        self.assertEqual(f["error_rates"], {"503": 1.0})
        self.assertEqual(f["latency_ms"], 10)
        control("POST", "faults", {"error_rates": {"500": 1.0},
                                   "routes": ["DELETE /object/{bucket}"]})
        self.assertEqual(upload("f3.ts", b"x").status, 200)
        r = request("DELETE", "/storage/v1/object/streams", body={"prefixes": ["f3.ts"]})
        self.assertEqual(r.status, 500)
        control("POST", "faults", {})
        self.assertEqual(upload("f4.ts", b"x").status, 200)

    def test_burst_429(self):
        control("POST", "faults", {"burst_429": 3})
        codes = [upload("b.ts", b"x", upsert="true").status for _ in range(5)]
        self.assertEqual(codes, [429, 429, 429, 200, 200])
        self.assertEqual(control("GET", "stats")["faults_injected"]["burst_429"], 3)

    def test_stall_forever_then_release(self):
        control("POST", "faults", {"stall_rate": 1.0, "stall_seconds": None})
        t0 = time.time()
        with self.assertRaises((socket.timeout, TimeoutError)):
            upload_timeout("stall.ts", timeout=0.6)
        self.assertGreaterEqual(time.time() - t0, 0.55)
        control("POST", "faults", {"next": ["stall"]})
        s = socket.create_connection(("127.0.0.1", EMU["port"]), timeout=3)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % public_path("x.ts")).encode())
        time.sleep(0.3)
        control("POST", "release")
        self.assertEqual(s.recv(100), b"")  # closed, never answered
        s.close()
        st = control("GET", "stats")
        self.assertEqual(st["faults_injected"]["stall"], 2)
        self.assertEqual(st["write_log"], [])  # a request that is never answered never lands

    def test_stall_then_answer(self):
        control("POST", "faults", {"next": ["stall"], "stall_seconds": 0.5})
        t0 = time.time()
        r = upload("late.ts", b"late")
        self.assertGreaterEqual(time.time() - t0, 0.5)
        self.assertEqual(r.status, 200)
        self.assertEqual(request("GET", public_path("late.ts"), auth=False).body, b"late")

    def test_drop_request(self):
        control("POST", "faults", {"next": ["drop_request"]})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError,
                                BrokenPipeError, http.client.BadStatusLine)):
            upload("dropped.ts", b"x" * 200000)
        self.assertEqual(request("GET", public_path("dropped.ts"), auth=False).status, 400)
        self.assertEqual(control("GET", "stats")["faults_injected"]["drop_request"], 1)

    def test_drop_response_after_the_write(self):
        control("POST", "faults", {"next": ["drop_response"]})
        with self.assertRaises((http.client.IncompleteRead, http.client.RemoteDisconnected,
                                ConnectionResetError)):
            upload("half.ts", b"payload")
        # The write happened; only the answer was lost (a retry must be idempotent).
        self.assertEqual(request("GET", public_path("half.ts"), auth=False).body, b"payload")
        self.assertEqual(upload("half.ts", b"payload", upsert="true").status, 200)
        st = control("GET", "stats")
        self.assertEqual(st["names_written_with_different_bytes"], [])
        self.assertEqual([w["name"] for w in st["write_log"]], ["streams/half.ts"] * 2)

    def test_html_pages(self):
        control("POST", "faults", {"next": ["html:502", "html:504", "html:403"]})
        r = upload("h.ts", b"x")
        self.assertEqual((r.status, r.h("content-type"), r.h("server")),
                         (502, "text/html", "cloudflare"))
        self.assertIn(b"<title>502 Bad Gateway</title>", r.body)
        self.assertIsNotNone(r.h("cf-ray"))
        r = upload("h.ts", b"x")
        self.assertEqual(r.status, 504)
        self.assertIn(b"504 Gateway Time-out", r.body)
        r = upload("h.ts", b"x")
        self.assertEqual(r.status, 403)
        self.assertIn(b"Attention Required! | Cloudflare", r.body)
        control("POST", "faults", {"html_rates": {"502": 1.0}})
        self.assertEqual(upload("h.ts", b"x").status, 502)

    def test_outage_refuses_connections(self):
        upload("o.ts", b"x")
        control("POST", "outage", {"seconds": 1.0})
        time.sleep(0.15)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", EMU["port"]), timeout=1).close()
        self.assertTrue(control("GET", "stats")["outage_active"])
        deadline = time.time() + 5
        while True:
            try:
                r = request("GET", public_path("o.ts"), auth=False, timeout=1)
                break
            except ConnectionRefusedError:
                self.assertLess(time.time(), deadline)
                time.sleep(0.1)
        self.assertEqual(r.status, 200)
        self.assertFalse(control("GET", "stats")["outage_active"])

    def test_outage_drops_open_connections_and_can_end_early(self):
        c = http.client.HTTPConnection("127.0.0.1", EMU["port"], timeout=3)
        self.assertEqual(request("GET", public_path("none"), auth=False, conn=c).status, 400)
        control("POST", "outage", {"seconds": 30})
        time.sleep(0.2)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError,
                                BrokenPipeError, ConnectionRefusedError)):
            request("GET", public_path("none"), auth=False, conn=c)
        c.close()
        control("POST", "outage", {"seconds": 0})
        deadline = time.time() + 3
        while True:
            try:
                self.assertEqual(request("GET", public_path("none"), auth=False,
                                         timeout=1).status, 400)
                break
            except ConnectionRefusedError:
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)


def upload_timeout(name, timeout):
    c = http.client.HTTPConnection("127.0.0.1", EMU["port"], timeout=timeout)
    try:
        c.request("POST", obj_path(name), body=b"x",
                  headers={"Authorization": "Bearer " + KEY, "Content-Type": "video/mp2t"})
        return c.getresponse().read()
    finally:
        c.close()


# ---- stats and control -----------------------------------------------------------------

class StatsTests(Base):
    def test_stats_and_write_log(self):
        upload("s/a.ts", b"aaa")
        upload("s/a.ts", b"bbb", upsert="true")
        upload("s/b.ts", b"ccc")
        request("GET", public_path("s/a.ts"), auth=False)
        request("DELETE", "/storage/v1/object/streams", body={"prefixes": ["s/b.ts"]})
        st = control("GET", "stats")
        self.assertEqual(st["routes"]["POST /object/{bucket}/{path}"],
                         {"requests": 3, "bytes_in": 9})
        self.assertEqual(st["routes"]["GET /object/public/{bucket}/{path}"]["requests"], 1)
        self.assertEqual(st["routes"]["DELETE /object/{bucket}"]["requests"], 1)
        self.assertEqual(st["requests_total"], 5)
        self.assertGreaterEqual(st["bytes_in"], 9)
        self.assertGreaterEqual(st["connections_accepted"], 5)
        self.assertEqual(st["statuses"], {"200": 5})
        log = st["write_log"]
        self.assertEqual([w["name"] for w in log], ["streams/s/a.ts", "streams/s/a.ts",
                                                    "streams/s/b.ts"])
        self.assertEqual(log[0]["sha256"], hashlib.sha256(b"aaa").hexdigest())
        self.assertEqual(log[0]["content_type"], "video/mp2t")
        self.assertTrue(all(isinstance(w["time"], float) for w in log))
        self.assertEqual(st["names_written_with_different_bytes"], ["streams/s/a.ts"])
        w = control("GET", "writes?since=2")
        self.assertEqual((len(w["writes"]), w["next"]), (1, 3))
        objs = control("GET", "objects")["objects"]
        self.assertEqual([(o["name"], o["size"]) for o in objs], [("s/a.ts", 3)])
        control("POST", "reset", {})
        st = control("GET", "stats")
        self.assertEqual((st["requests_total"], st["writes"], st["objects"]), (0, 0, 0))


# ---- the command line ------------------------------------------------------------------

class CliTests(unittest.TestCase):
    def test_cli_faults_and_no_key_in_output(self):
        info = start_emulator("--bucket", "streams", "--public", "--verbose",
                              "--fault-burst-429", "2", "--fault-latency-ms", "20",
                              "--fault-error-rate", "503=0", "--faults",
                              json.dumps({"html_rates": {"504": 0.0}}), control=False)
        try:
            self.assertRegex(info["ready_line"], r"^ready http://127\.0\.0\.1:\d+$")
            self.assertEqual(info["lines"], [info["ready_line"]])
            port = info["port"]
            codes = [request("POST", obj_path("c.ts"), body=b"x", port=port, auth="Bearer " + KEY,
                             headers={"Content-Type": "video/mp2t", "apikey": KEY,
                                      "x-upsert": "true"}).status
                     for _ in range(3)]
            self.assertEqual(codes, [429, 429, 200])
            f = request("GET", "/__control/faults", port=port, auth=False).json()
            self.assertEqual((f["latency_ms"], f["error_rates"]), (20.0, {"503": 0.0}))
        finally:
            self.assertEqual(stop_emulator(info), 0)
        everything = "\n".join(info["lines"]) + info["stdout_rest"] + info["stderr"]
        self.assertIn("POST /storage/v1/object/streams/c.ts -> 200", info["stderr"])
        self.assertNotIn(KEY, everything)
        self.assertNotIn(ANON, everything)

    def test_cli_render_and_gateway_options(self):
        host = "::1" if socket.has_ipv6 else "127.0.0.1"
        try:
            socket.create_server((host, 0), family=socket.AF_INET6 if ":" in host
                                 else socket.AF_INET).close()
        except OSError:
            host = "127.0.0.1"
        proc = subprocess.Popen([sys.executable, EMULATOR, "--host", host, "--port", "0",
                                 "--service-key", KEY, "--bucket", "b", "--public",
                                 "--s-maxage", "60", "--bare-304", "--require-apikey",
                                 "--no-cdn-purge"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline().strip()
            url = line.split(" ", 1)[1]
            self.assertTrue(url.startswith("http://[::1]:" if host == "::1"
                                           else "http://127.0.0.1:"), line)
            port = int(url.rsplit(":", 1)[1])

            def req(method, path, body=None, headers=None):
                c = http.client.HTTPConnection(host, port, timeout=5)
                try:
                    c.request(method, path, body=body, headers=headers or {})
                    r = c.getresponse()
                    return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
                finally:
                    c.close()

            auth = {"Authorization": "Bearer " + KEY}
            r = req("POST", obj_path("x.ts", "b"), b"x", auth)
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json()["message"], "No API key found in request")
            meta = "eyJjYW0iOiAiZmxvb3IifQ=="  # {"cam": "floor"}
            r = req("POST", obj_path("x.ts", "b") + "?apikey=" + KEY, b"x",
                    dict(auth, **{"x-metadata": meta}))
            self.assertEqual(r.status, 200)
            etag = req("GET", public_path("x.ts", "b")).h("etag")
            r = req("GET", public_path("x.ts", "b"), headers={"If-None-Match": etag})
            self.assertEqual((r.status, r.h("etag"), r.h("cache-control")), (304, None, None))
            r = req("GET", public_path("x.ts", "b"), headers={"If-None-Match": '"old"'})
            self.assertEqual(r.h("cache-control"),
                             "no-cache, s-maxage=60, stale-while-revalidate=30")
            lm = req("GET", public_path("x.ts", "b")).h("last-modified")
            self.assertEqual(req("GET", public_path("x.ts", "b"),
                                 headers={"If-Modified-Since": lm}).status, 304)
            r = req("GET", public_path("x.ts", "b") + "?download=my%20clip.ts")
            self.assertEqual(r.h("content-disposition"),
                             "attachment; filename=\"my clip.ts\"; filename*=UTF-8''my%20clip.ts")
            r = req("DELETE", "/storage/v1/cdn/b/x.ts", headers=dict(auth, apikey=KEY))
            self.assertEqual((r.status, r.json()["statusCode"], r.json()["code"]),
                             (400, "409", "FeatureNotEnabled"))
            r = req("DELETE", "/storage/v1/object/b", json.dumps({"prefixes": ["x.ts"]}).encode(),
                    dict(auth, apikey=KEY))
            self.assertEqual(r.json()[0]["user_metadata"], {"cam": "floor"})
        finally:
            proc.terminate()
            proc.communicate(timeout=5)

    def test_cli_outage_and_bad_flags(self):
        info = start_emulator("--fault-outage-seconds", "0.6", control=False)
        try:
            time.sleep(0.2)
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", info["port"]), timeout=1).close()
            time.sleep(0.8)
            r = request("GET", "/__control/health", port=info["port"], auth=False)
            self.assertEqual(r.json(), {"ok": True})
        finally:
            stop_emulator(info)
        p = subprocess.run([sys.executable, EMULATOR, "--service-key", KEY,
                            "--fault-error-rate", "503=0.8,429=0.8"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("add up", p.stderr)
        p = subprocess.run([sys.executable, EMULATOR, "--host", "0.0.0.0", "--service-key", KEY],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
