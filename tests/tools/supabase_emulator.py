#!/usr/bin/env python3
"""Local emulator of the Supabase Storage REST API, for edgestream's tests.

Python 3 standard library only. It follows ../shared/reference/supabase-storage-api.md
(status codes, the HTTP-400 error envelope, headers) for the subset that edgestream's
uploader uses, and adds fault injection so tests can prove the uploader survives a bad
network and a bad server. Storage is in memory. See docs/supabase-emulator.md.

    python3 supabase_emulator.py --port 0 --bucket streams --public --service-key KEY
    -> prints "ready http://127.0.0.1:PORT" on stdout once it accepts connections.

What it emulates (all under /storage/v1):
  POST   /object/{bucket}/{path}          create (x-upsert: true, the exact string, overwrites)
  PUT    /object/{bucket}/{path}          upsert
  DELETE /object/{bucket}                 {"prefixes":[exact names]} -> deleted rows or []
  DELETE /object/{bucket}/{path}          {"message":"Successfully deleted"} or NoSuchKey
  POST   /object/list/{bucket}            folder-style listing (folders have id:null)
  GET|HEAD /object/public/{bucket}/{path} public read: Cache-Control, ETag, Range, If-None-Match
  GET|HEAD /object/{bucket}/{path}        authenticated read (also /object/authenticated/...)
  DELETE /cdn[/{bucket}[/{path}]]         CDN purge: accepted and counted, nothing to purge
  Auth: Authorization: Bearer <key> against --service-key (read/write) and --anon-key
  (read-only); the apikey header as the hosted gateway checks it. Raw and
  multipart/form-data upload bodies, Content-Length or chunked, Expect: 100-continue.
  Bucket config: exists, public, allowed_mime_types, file_size_limit.
  And, under /rest/v1/ (the same base URL, as in a project), a stand-in of PostgREST over
  the `cameras` table for the daemon's camera registration: POST upserts (on_conflict,
  Prefer: resolution=merge-duplicates), GET with eq. filters; the rules, and what the
  stand-in does NOT cover, are in postgrest_standin.py beside this file. Storage faults
  and the storage statistics (`routes`, `statuses`) leave /rest/v1/ alone; it has its own
  control endpoints (below) and fails only when told to, or during an outage.

What it does NOT cover (requests to these get HTTP 501 NotImplemented, or nothing at all):
  - TUS resumable uploads (/upload/resumable), the S3 protocol (/s3), signed URLs
    (/object/sign, /object/upload/sign), copy/move, list-v2, object info, bucket
    management routes (/bucket), image transformations (/render), iceberg/vector.
  - The CDN: no edge cache, no cf-cache-status/Age, no Smart CDN invalidation delay
    (up to 60 s on the real service), purge is a no-op.
  - Row level security: the service key may do everything; the anon key may read and
    list but every write/delete is refused as a missing RLS policy would refuse it.
    JWTs are not parsed: a key is an opaque string compared for equality.
  - Object versions/history, owner tracking, webhooks, rate limiting of /render,
    per-plan quotas, the x-robots-tag request override, ?download on authenticated GET.
  - TLS, HTTP/2, Cloudflare itself (its HTML pages are only imitated as faults).

Fault injection (CLI --fault-* flags, and at run time through the control API):
  added latency (fixed + jitter), error rates per HTTP status, body-only envelope errors
  (HTTP 400 carrying 503 LockTimeout etc.), Cloudflare-style HTML pages, 429 bursts,
  stalls (never answer / answer after S s), dropped connections (mid-request or
  mid-response), and a full outage for N s (the listening socket is closed, so clients
  get ECONNREFUSED, then reopened on the same port).

Control API (no auth; on the main port and, with --control-port, on a second port that
stays up during an outage): GET /__control/stats, GET /__control/writes,
GET /__control/objects, GET|POST|PATCH /__control/faults, POST /__control/outage,
POST /__control/reset, POST /__control/release, POST /__control/buckets,
DELETE /__control/buckets/{name}, POST /__control/keys, GET /__control/health,
GET /__control/rest (the cameras rows and every REST request),
POST /__control/rest/fail {"status": 503, "count": N} (the next N REST requests get that
status; count -1: until told {"count": 0}).

Keys are never logged, printed or echoed back.
"""

import argparse
import base64
import email.parser
import email.policy
import email.utils
import hashlib
import hmac
import json
import os
import random
import re
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postgrest_standin  # noqa: E402

API_PREFIX = "/storage/v1"
CONTROL_PREFIX = "/__control/"

# src/storage/limits.ts isValidKey: \w (ASCII in JS without the u flag) plus these.
VALID_KEY_RE = re.compile(r"^[A-Za-z0-9_/!.*'() &$=@;:+,?-]*$")

# .env.sample: UPLOAD_FILE_SIZE_LIMIT=524288000, UPLOAD_FILE_SIZE_LIMIT_STANDARD=52428800;
# the effective limit is the smallest of them and the bucket's file_size_limit.
DEFAULT_GLOBAL_FILE_SIZE_LIMIT = 52428800
DEFAULT_DELETE_LIMIT = 1000
DRAIN_CAP = 64 * 1024 * 1024
JSON_TYPE = "application/json; charset=utf-8"

REASONS = {
    200: "OK", 201: "Created", 206: "Partial Content", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 423: "Locked", 429: "Too Many Requests",
    499: "Client Closed Request", 500: "Internal Server Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
    520: "Web Server Returned an Unknown Error", 521: "Web Server Is Down",
    522: "Connection Timed Out", 524: "A Timeout Occurred",
}


def reason(status):
    # Node answers an unknown status (544) with the reason phrase "unknown".
    return REASONS.get(status, "unknown")


# --------------------------------------------------------------------------------------
# Error envelope (src/internal/errors/codes.ts, storage-error.ts, src/http/error-handler.ts)
# --------------------------------------------------------------------------------------

class StorageError(Exception):
    """An error rendered as the storage server renders it.

    body_status is the class that goes into the body ("statusCode" as a string); the
    HTTP status is 400 for everything except 500, unless http_status overrides it
    (429 SlowDown, 544 DatabaseTimeout, 403 role enforcement).
    """

    def __init__(self, body_status, code, error, message, http_status=None, headers=None,
                 before_body=False):
        super().__init__(message)
        # True: answered without reading the request body (over-limit Content-Length).
        self.before_body = before_body
        self.body_status = int(body_status)
        self.code = code
        self.error = error
        self.message = message
        if http_status is None:
            http_status = 500 if self.body_status == 500 else 400
        self.http_status = http_status
        self.headers = headers or []

    def body(self):
        # Field order as in the reference document: statusCode, error, code, message.
        return {"statusCode": str(self.body_status), "error": self.error,
                "code": self.code, "message": self.message}


def err_no_such_bucket():
    return StorageError(404, "NoSuchBucket", "Bucket not found", "Bucket not found")


def err_no_such_key():
    return StorageError(404, "NoSuchKey", "not_found", "Object not found")


def err_key_exists():
    return StorageError(409, "KeyAlreadyExists", "Duplicate", "The resource already exists")


def err_too_large():
    return StorageError(413, "EntityTooLarge", "Payload too large",
                        "The object exceeded the maximum allowed size", before_body=True)


def err_mime(mimetype):
    return StorageError(415, "InvalidMimeType", "invalid_mime_type",
                        "mime type %s is not supported" % mimetype)


def err_invalid_key(key):
    return StorageError(400, "InvalidKey", "InvalidKey", "Invalid key: %s" % key)


def err_access_denied(message, http_status=None):
    return StorageError(403, "AccessDenied", "Unauthorized", message, http_status=http_status)


def err_invalid_request(message, error="InvalidRequest"):
    return StorageError(400, "InvalidRequest", error, message)


def err_internal():
    return StorageError(500, "InternalError", "InternalError", "Internal server error")


def err_slow_down():
    return StorageError(429, "SlowDown", "too_many_connections",
                        "Too many connections issued to the database", http_status=429)


def err_db_timeout():
    return StorageError(544, "DatabaseTimeout", "DatabaseTimeout",
                        "The connection to the database timed out", http_status=544)


def err_not_implemented(what):
    return StorageError(501, "NotImplemented", "NotImplemented",
                        "supabase_emulator does not implement %s" % what, http_status=501)


# Body-only errors a test can inject: the HTTP status stays 400, the class is in the body.
ENVELOPE_FAULTS = {
    "LockTimeout": lambda: StorageError(503, "LockTimeout", "acquiring_lock_timeout",
                                        "acquiring lock timeout"),
    "DatabaseReadOnly": lambda: StorageError(
        503, "DatabaseReadOnly", "DatabaseReadOnly",
        "The database is currently in read-only mode. Please try again later."),
    "DatabaseConnectionLimit": lambda: StorageError(
        503, "DatabaseConnectionLimit", "DatabaseConnectionLimit",
        "The database has reached its maximum number of connections. Please try again later."),
    "ResourceLocked": lambda: StorageError(423, "ResourceLocked", "ResourceLocked",
                                           "The resource is locked"),
    "AccessDenied": lambda: err_access_denied("signature verification failed"),
    "NoSuchBucket": err_no_such_bucket,
    "InternalError": err_internal,
    "SlowDown": err_slow_down,
    "DatabaseTimeout": err_db_timeout,
}


def status_fault_error(status):
    """The error a request gets when a fault forces HTTP status `status`."""
    if status == 429:
        return err_slow_down()
    if status == 500:
        return err_internal()
    if status == 544:
        return err_db_timeout()
    if status == 403:
        return err_access_denied("Access denied: Invalid role", http_status=403)
    phrase = reason(status) if status in REASONS else "Error"
    # Shape of the Fastify-error branch of the error handler, with a real HTTP status.
    return StorageError(status, phrase.replace(" ", ""), phrase, phrase, http_status=status)


CLOUDFLARE_TITLES = {502: "502 Bad Gateway", 504: "504 Gateway Time-out",
                     503: "503 Service Temporarily Unavailable", 500: "500 Internal Server Error"}


def cloudflare_html(status, ray):
    if status == 403:
        return ("<!DOCTYPE html>\n<!--[if lt IE 7]> <html class=\"no-js ie6 oldie\" lang=\"en-US\"> "
                "<![endif]-->\n<html class=\"no-js\" lang=\"en-US\">\n<head>\n"
                "<title>Attention Required! | Cloudflare</title>\n<meta charset=\"UTF-8\" />\n"
                "</head>\n<body>\n<div id=\"cf-wrapper\">\n<div id=\"cf-error-details\">\n"
                "<h1 data-translate=\"block_headline\">Sorry, you have been blocked</h1>\n"
                "<h2 class=\"cf-subheadline\">You are unable to access supabase.co</h2>\n"
                "<p>This website is using a security service to protect itself from online "
                "attacks. The action you just performed triggered the security solution.</p>\n"
                "<span class=\"cf-footer-item\">Cloudflare Ray ID: <strong>%s</strong></span>\n"
                "</div>\n</div>\n</body>\n</html>\n" % ray.split("-")[0]), "text/html; charset=UTF-8"
    if status in (520, 521, 522, 523, 524):
        return ("<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<title>supabase.co | %d: %s</title>\n"
                "</head>\n<body>\n<h1>%s</h1>\n<span>Error code %d</span>\n"
                "<span>Cloudflare Ray ID: <strong>%s</strong></span>\n</body>\n</html>\n"
                % (status, reason(status), reason(status), status, ray.split("-")[0]),
                "text/html; charset=UTF-8")
    title = CLOUDFLARE_TITLES.get(status, "%d %s" % (status, reason(status)))
    return ("<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n"
            "<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n" % (title, title)), "text/html"


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def json_bytes(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def iso_ms(t):
    d = datetime.fromtimestamp(t, tz=timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def parse_size(value):
    """Bytes from '1048576', '5MB', '20KB', '1.5GB' (parseFileSizeToBytes uses 1000s)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    s = str(value).strip()
    if s.isdigit():
        return int(s)
    m = re.match(r"^([0-9]+(?:\.[0-9]+)?)(gb|mb|kb|b)$", s, re.I)
    if not m:
        raise ValueError("invalid size %r (use bytes, or 20GB / 20MB / 30KB / 3B)" % value)
    mult = {"gb": 10 ** 9, "mb": 10 ** 6, "kb": 1000, "b": 1}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def mime_allowed(mimetype, allowed):
    """src/storage/uploader.ts validateMimeType: split on '/', compare type and subtype
    exactly (case-sensitive); 'type/*' is a wildcard; parameters are part of the subtype."""
    requested = mimetype.split("/")
    if len(requested) < 2:
        return False
    rtype, rsub = requested[0], requested[1]
    for a in allowed:
        parts = a.split("/")
        if len(parts) < 2:
            continue
        if parts[0] == rtype and parts[1] == "*":
            return True
        if parts[0] == rtype and parts[1] == rsub:
            return True
    return False


def split_cache_control(value):
    out, cur, inq, i = [], "", False, 0
    while i < len(value):
        c = value[i]
        if inq and c == "\\" and i + 1 < len(value):
            cur += value[i:i + 2]
            i += 2
            continue
        if c == '"':
            inq = not inq
        if c == "," and not inq:
            if cur.strip():
                out.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    if cur.strip():
        out.append(cur.strip())
    return out


def merge_cache_control(base, additions):
    """src/storage/renderer/cache-control.ts mergeCacheControlDirectives."""
    directives = [base] if base else []
    names = {d.split("=")[0].strip().lower() for b in directives for d in split_cache_control(b)}
    for a in additions:
        n = a.split("=")[0].strip().lower()
        if n not in names:
            directives.append(a)
            names.add(n)
    return ", ".join(directives)


class Abort(Exception):
    """Close the connection without (finishing) an answer."""


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


# --------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------

class Bucket:
    def __init__(self, name, public=False, allowed_mime_types=None, file_size_limit=None):
        self.name = name
        self.id = name
        self.public = bool(public)
        self.allowed_mime_types = list(allowed_mime_types) if allowed_mime_types else None
        self.file_size_limit = file_size_limit
        self.created_at = time.time()

    def describe(self):
        return {"name": self.name, "public": self.public,
                "allowed_mime_types": self.allowed_mime_types,
                "file_size_limit": self.file_size_limit}


class StoredObject:
    def __init__(self, bucket, name, data, content_type, cache_control, user_metadata, old=None):
        now = time.time()
        self.bucket = bucket
        self.name = name
        self.data = data
        self.content_type = content_type
        self.cache_control = cache_control
        self.user_metadata = user_metadata
        self.id = old.id if old else str(uuid.uuid4())
        self.created_at = old.created_at if old else now
        self.version = str(uuid.uuid4())
        self.updated_at = now
        self.last_accessed_at = now
        self.etag = '"%s"' % hashlib.md5(data).hexdigest()
        self.sha256 = hashlib.sha256(data).hexdigest()

    def metadata(self):
        return {"eTag": self.etag, "size": len(self.data), "mimetype": self.content_type,
                "cacheControl": self.cache_control, "lastModified": iso_ms(self.updated_at),
                "contentLength": len(self.data), "httpStatusCode": 200}

    def row(self):
        # objectSchema order (owner/owner_id left out: the service role has no sub).
        return {"name": self.name, "bucket_id": self.bucket, "version": self.version,
                "id": self.id, "updated_at": iso_ms(self.updated_at),
                "created_at": iso_ms(self.created_at),
                "last_accessed_at": iso_ms(self.last_accessed_at),
                "metadata": self.metadata(), "user_metadata": self.user_metadata}


FAULT_KEYS = {
    "latency_ms", "jitter_ms", "error_rates", "envelope_rates", "html_rates", "burst_429",
    "stall_rate", "stall_seconds", "drop_request_rate", "drop_response_rate", "next",
    "methods", "routes", "path_regex", "outage_seconds",
}


def default_faults():
    return {"latency_ms": 0, "jitter_ms": 0, "error_rates": {}, "envelope_rates": {},
            "html_rates": {}, "burst_429": 0, "stall_rate": 0.0, "stall_seconds": None,
            "drop_request_rate": 0.0, "drop_response_rate": 0.0, "next": [],
            "methods": None, "routes": None, "path_regex": None}


def _parse_one_shot(item):
    """'stall' | 'drop_request' | 'drop_response' | 'status:503' | 'envelope:LockTimeout'
    | 'html:502' | a bare status number -> (kind, arg)."""
    if isinstance(item, int):
        return ("status", item)
    s = str(item)
    if s in ("stall", "drop_request", "drop_response"):
        return (s, None)
    if s.isdigit():
        return ("status", int(s))
    kind, _, arg = s.partition(":")
    if kind == "status" and arg.isdigit():
        return ("status", int(arg))
    if kind == "html" and arg.isdigit():
        return ("html", int(arg))
    if kind == "envelope" and arg in ENVELOPE_FAULTS:
        return ("envelope", arg)
    raise ValueError("unknown one-shot fault %r" % item)


def validate_faults(spec, base=None):
    """Check a fault spec and return a full fault config (base updated with spec)."""
    if not isinstance(spec, dict):
        raise ValueError("faults must be a JSON object")
    unknown = set(spec) - FAULT_KEYS
    if unknown:
        raise ValueError("unknown fault keys: %s" % ", ".join(sorted(unknown)))
    f = dict(base) if base else default_faults()
    for k, v in spec.items():
        if k == "outage_seconds":
            continue
        f[k] = v
    for k in ("latency_ms", "jitter_ms"):
        f[k] = float(f[k] or 0)
        if f[k] < 0:
            raise ValueError("%s must be >= 0" % k)
    for k in ("error_rates", "html_rates"):
        rates = {}
        for code, p in (f[k] or {}).items():
            if not str(code).isdigit() or not 100 <= int(code) <= 999:
                raise ValueError("%s: %r is not an HTTP status" % (k, code))
            rates[str(int(code))] = float(p)
        f[k] = rates
    rates = {}
    for code, p in (f["envelope_rates"] or {}).items():
        if code not in ENVELOPE_FAULTS:
            raise ValueError("envelope_rates: unknown code %r (known: %s)"
                             % (code, ", ".join(sorted(ENVELOPE_FAULTS))))
        rates[code] = float(p)
    f["envelope_rates"] = rates
    for k in ("stall_rate", "drop_request_rate", "drop_response_rate"):
        f[k] = float(f[k] or 0)
    f["burst_429"] = int(f["burst_429"] or 0)
    if f["stall_seconds"] is not None:
        f["stall_seconds"] = float(f["stall_seconds"])
        if f["stall_seconds"] < 0:
            f["stall_seconds"] = None
    f["next"] = [item if isinstance(item, str) else str(item) for item in (f["next"] or [])]
    for item in f["next"]:
        _parse_one_shot(item)
    all_rates = (list(f["error_rates"].values()) + list(f["html_rates"].values())
                 + list(f["envelope_rates"].values())
                 + [f["stall_rate"], f["drop_request_rate"], f["drop_response_rate"]])
    if any(p < 0 or p > 1 for p in all_rates):
        raise ValueError("every rate must be within [0, 1]")
    if sum(all_rates) > 1.000001:
        raise ValueError("the rates add up to %.3f; they are one draw per request and "
                         "must add up to at most 1" % sum(all_rates))
    if f["methods"] is not None:
        f["methods"] = [str(m).upper() for m in f["methods"]]
    if f["routes"] is not None:
        f["routes"] = [str(r) for r in f["routes"]]
    if f["path_regex"] is not None:
        re.compile(f["path_regex"])
    return f


class Stats:
    def __init__(self):
        self.started = time.time()
        self.reset()

    def reset(self):
        self.requests_total = 0
        self.control_requests = 0
        self.routes = {}
        self.statuses = {}
        self.error_codes = {}
        self.bytes_in = 0
        self.bytes_out = 0
        self.bytes_discarded = 0
        self.connections_accepted = 0
        self.faults = {}
        self.writes = []

    def bump(self, table, key, n=1):
        table[key] = table.get(key, 0) + n


class Emulator:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.host = args.host
        self.port = args.port
        self.service_key = args.service_key
        self.anon_key = args.anon_key
        self.require_apikey = args.require_apikey
        self.global_limit = args.global_file_size_limit
        self.delete_limit = args.delete_limit
        self.s_maxage = args.s_maxage
        self.bare_304 = args.bare_304
        self.cdn_purge = not args.no_cdn_purge
        self.verbose = args.verbose
        self.rng = random.Random(args.seed)
        self.buckets = {}
        self.objects = {}
        self.rest = postgrest_standin.CamerasTable()
        self.rest_fail = {"status": None, "count": 0}
        self.stats = Stats()
        self.faults = default_faults()
        self.stall_generation = 0
        self.shutting_down = False
        self.open_conns = {}
        self.outage_until = 0.0
        self.outage_active = False
        self.outage_thread = None
        self.main = None
        self.control = None
        for name in args.bucket or []:
            self.buckets[name] = Bucket(name, args.public, args.allowed_mime,
                                        args.file_size_limit)

    # ---- logging: method, path and status only; never headers (they carry keys) ----
    def log(self, msg):
        if self.verbose:
            sys.stderr.write("[supabase_emulator] %s\n" % msg)
            sys.stderr.flush()

    # ---- connections ----
    def conn_opened(self, sock, kind):
        with self.lock:
            self.open_conns[sock] = kind
            if kind == "main":
                self.stats.connections_accepted += 1

    def conn_closed(self, sock):
        with self.lock:
            self.open_conns.pop(sock, None)

    def drop_main_connections(self):
        with self.lock:
            socks = [s for s, k in self.open_conns.items() if k == "main"]
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ---- faults ----
    def set_faults(self, spec, merge=False):
        with self.lock:
            f = validate_faults(spec, self.faults if merge else None)
            self.faults = f
            outage = spec.get("outage_seconds")
        if outage:
            self.start_outage(float(outage))
        return f

    def fault_applies(self, f, method, route, path):
        if f["methods"] is not None and method not in f["methods"]:
            return False
        if f["routes"] is not None and route not in f["routes"]:
            return False
        if f["path_regex"] is not None and not re.search(f["path_regex"], path):
            return False
        return True

    def pick_fault(self, method, route, path):
        """-> (latency_seconds, fault or None); fault = (kind, arg)."""
        with self.lock:
            f = self.faults
            if not self.fault_applies(f, method, route, path):
                return 0.0, None
            latency = f["latency_ms"] / 1000.0
            if f["jitter_ms"]:
                latency += self.rng.uniform(0, f["jitter_ms"] / 1000.0)
            if f["next"]:
                return latency, _parse_one_shot(f["next"].pop(0))
            if f["burst_429"] > 0:
                f["burst_429"] -= 1
                return latency, ("burst_429", 429)
            r = self.rng.random()
            acc = 0.0
            choices = ([(("status", int(c)), p) for c, p in sorted(f["error_rates"].items())]
                       + [(("envelope", c), p) for c, p in sorted(f["envelope_rates"].items())]
                       + [(("html", int(c)), p) for c, p in sorted(f["html_rates"].items())]
                       + [(("stall", None), f["stall_rate"]),
                          (("drop_request", None), f["drop_request_rate"]),
                          (("drop_response", None), f["drop_response_rate"])])
            for fault, p in choices:
                acc += p
                if p > 0 and r < acc:
                    return latency, fault
            return latency, None

    def count_fault(self, name):
        with self.lock:
            self.stats.bump(self.stats.faults, name)

    def release_stalls(self):
        with self.lock:
            self.stall_generation += 1

    # ---- outage: close the listening socket, reopen it on the same port later ----
    def start_outage(self, seconds):
        with self.lock:
            self.outage_until = max(self.outage_until, time.monotonic() + seconds)
            self.stats.bump(self.stats.faults, "outage")
            if self.outage_active:
                return
            self.outage_active = True
            self.outage_thread = threading.Thread(target=self._outage_worker, daemon=True)
            self.outage_thread.start()

    def end_outage(self):
        with self.lock:
            self.outage_until = 0.0

    def _outage_worker(self):
        self.log("outage: listening socket closed")
        self.main.stop()
        self.drop_main_connections()
        self.release_stalls()
        while not self.shutting_down:
            with self.lock:
                if time.monotonic() >= self.outage_until:
                    break
            time.sleep(0.02)
        if not self.shutting_down:
            self.main.start()
            self.log("outage over: listening again")
        with self.lock:
            self.outage_active = False

    # ---- reset ----
    def reset(self, what):
        with self.lock:
            if what.get("objects", True):
                self.objects.clear()
            if what.get("stats", True):
                self.stats.reset()
            if what.get("faults", True):
                self.faults = default_faults()
            if what.get("rest", True):
                self.rest = postgrest_standin.CamerasTable()
                self.rest_fail = {"status": None, "count": 0}
        self.release_stalls()

    # ---- stats ----
    def stats_snapshot(self):
        with self.lock:
            s = self.stats
            by_name = {}
            for w in s.writes:
                by_name.setdefault(w["name"], set()).add(w["sha256"])
            conflicting = sorted(n for n, shas in by_name.items() if len(shas) > 1)
            return {
                "uptime_seconds": round(time.time() - s.started, 3),
                "requests_total": s.requests_total,
                "control_requests": s.control_requests,
                "routes": {k: dict(v) for k, v in s.routes.items()},
                "statuses": dict(s.statuses),
                "error_codes": dict(s.error_codes),
                "bytes_in": s.bytes_in,
                "bytes_out": s.bytes_out,
                "bytes_discarded": s.bytes_discarded,
                "connections_accepted": s.connections_accepted,
                "connections_open": sum(1 for k in self.open_conns.values() if k == "main"),
                "faults_injected": dict(s.faults),
                "outage_active": self.outage_active,
                "objects": len(self.objects),
                "writes": len(s.writes),
                "names_written_with_different_bytes": conflicting,
                "write_log": list(s.writes),
            }


# --------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------

def route_of(method, path):
    """Map (method, path below /storage/v1) to (route name, params). Static segments
    win over parameters, as in Fastify: POST /object/list/x lists bucket x."""
    if path.startswith("/object/"):
        rest = path[len("/object/"):]
        first, sep, tail = rest.partition("/")
        if first == "list" and sep and method == "POST":
            return "POST /object/list/{bucket}", {"bucket": tail}
        if first in ("sign", "upload", "info", "move", "copy", "list-v2") and (sep or method == "POST"):
            return "NI %s /object/%s/..." % (method, first), {}
        if first in ("public", "authenticated") and sep and method in ("GET", "HEAD"):
            b, s2, name = tail.partition("/")
            if s2:
                return "%s /object/%s/{bucket}/{path}" % (method, first), {"bucket": b, "name": name}
            return None, {}
        if not sep:
            if method == "DELETE":
                return "DELETE /object/{bucket}", {"bucket": first}
            return None, {}
        if method in ("POST", "PUT", "DELETE", "GET", "HEAD"):
            return "%s /object/{bucket}/{path}" % method, {"bucket": first, "name": tail}
        return None, {}
    if path == "/cdn" or path == "/cdn/" or path.startswith("/cdn/"):
        if method == "DELETE":
            return "DELETE /cdn", {}
        return None, {}
    for ni in ("/upload/resumable", "/s3", "/bucket", "/render", "/iceberg", "/vector"):
        if path == ni or path.startswith(ni + "/"):
            return "NI %s %s" % (method, ni), {}
    return None, {}


# --------------------------------------------------------------------------------------
# HTTP handler
# --------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "supabase-emulator"
    sys_version = ""
    timeout = 300

    # ---- connection lifecycle ----
    def setup(self):
        super().setup()
        self.emu = self.server.emu
        self.emu.conn_opened(self.connection, self.server.kind)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.emu.conn_closed(self.connection)

    def handle_one_request(self):
        self._expect_pending = False
        self._body_consumed = True
        self._prefetched_body = None
        self._drop_response = False
        self._route = None
        self._sent_status = None
        try:
            super().handle_one_request()
        except Abort:
            self.close_connection = True
            self._hard_close()
        except (ConnectionError, socket.timeout, OSError):
            self.close_connection = True

    def _hard_close(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_expect_100(self):
        # Defer "100 Continue" until the body is actually read, so that a request that is
        # refused up front (too large, bad key, ...) gets its final answer instead.
        self._expect_pending = True
        return True

    def log_message(self, fmt, *args):
        pass

    def log_request(self, code="-", size="-"):
        pass

    # ---- body ----
    def _body_framing(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return True, None
        cl = self.headers.get("Content-Length")
        if cl is None:
            return False, 0
        cl = cl.strip()
        if not cl.isdigit():
            raise BadBody("invalid Content-Length")
        return False, int(cl)

    def _send_continue(self):
        if self._expect_pending:
            self._expect_pending = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()

    def _read_body(self, limit=None, store=True):
        """Read the whole body. With limit, raise BodyTooLarge as soon as it is exceeded
        (the rest stays unread and the connection is closed after the answer)."""
        if self._prefetched_body is not None:
            body = self._prefetched_body
            if limit is not None and len(body) > limit:
                raise BodyTooLarge()
            return body
        chunked, length = self._body_framing()
        if not chunked and length == 0:
            return b""
        self._body_consumed = False
        self._send_continue()
        parts = []
        total = 0
        if chunked:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise Abort()
                size_s = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_s, 16)
                except ValueError:
                    raise BadBody("invalid chunk size")
                if size == 0:
                    while True:
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                if limit is not None and total + size > limit:
                    raise BodyTooLarge()
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, 1 << 20))
                    if not data:
                        raise Abort()
                    remaining -= len(data)
                    total += len(data)
                    self._count_in(len(data))
                    if store:
                        parts.append(data)
                self.rfile.readline(3)
        else:
            if limit is not None and length > limit:
                raise BodyTooLarge()
            remaining = length
            while remaining:
                data = self.rfile.read(min(remaining, 1 << 20))
                if not data:
                    raise Abort()
                remaining -= len(data)
                total += len(data)
                self._count_in(len(data))
                if store:
                    parts.append(data)
        self._body_consumed = True
        return b"".join(parts)

    def _count_in(self, n):
        if self._route in ("control", "rest"):
            return
        with self.emu.lock:
            st = self.emu.stats
            st.bytes_in += n
            if self._route:
                st.routes.setdefault(self._route, {"requests": 0, "bytes_in": 0})
                st.routes[self._route]["bytes_in"] += n

    def _discard_body(self):
        try:
            self._read_body(store=False)
        except (BodyTooLarge, BadBody):
            self.close_connection = True

    def _drain_after_refusal(self):
        """The answer was sent before the body was read. If the client is sending the body
        anyway (no Expect: 100-continue), swallow some of it so it can read the answer,
        then close."""
        self.close_connection = True
        if self._expect_pending:
            return
        try:
            chunked, length = self._body_framing()
        except BadBody:
            return
        budget = DRAIN_CAP if chunked else min(length or 0, DRAIN_CAP)
        self.connection.settimeout(2.0)
        drained = 0
        try:
            while drained < budget:
                data = self.rfile.read1(min(65536, budget - drained))
                if not data:
                    break
                drained += len(data)
        except (OSError, ValueError):
            pass
        with self.emu.lock:
            self.emu.stats.bytes_discarded += drained

    # ---- responses ----
    def _send(self, status, headers=(), body=b"", content_length=None):
        head_only = self.command == "HEAD"
        if not self._body_consumed:
            self.close_connection = True
        lines = ["HTTP/1.1 %d %s" % (status, reason(status)), "Date: " + http_date(time.time())]
        names = set()
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
            names.add(k.lower())
        if "content-length" not in names:
            lines.append("Content-Length: %d" % (len(body) if content_length is None
                                                  else content_length))
        lines.append("Connection: " + ("close" if self.close_connection else "keep-alive"))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        payload = b"" if head_only or status in (204, 304) else body
        data = head + payload
        self._sent_status = status
        with self.emu.lock:
            st = self.emu.stats
            if self.server.kind == "main" and not (self._route or "").startswith(("control", "rest")):
                st.bump(st.statuses, str(status))
            st.bytes_out += len(payload)
        self.emu.log("%s %s -> %d" % (self.command, self.path.split("?")[0], status))
        if self._drop_response:
            cut = len(head) + len(payload) // 2 if len(payload) >= 2 else len(head) // 2
            self.wfile.write(data[:cut])
            self.wfile.flush()
            raise Abort()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status, obj, headers=()):
        self._send(status, [("Content-Type", JSON_TYPE)] + list(headers), json_bytes(obj))

    def _send_error(self, e):
        with self.emu.lock:
            self.emu.stats.bump(self.emu.stats.error_codes, e.code)
        self._send_json(e.http_status, e.body(), e.headers)

    # ---- dispatch ----
    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _dispatch(self):
        raw_path, _, query = self.path.partition("?")
        if raw_path.startswith(CONTROL_PREFIX) or raw_path == CONTROL_PREFIX.rstrip("/"):
            self._route = "control"
            return self._control(raw_path, query)
        if self.server.kind == "control":
            self._discard_body()
            return self._send_json(404, {"error": "only /__control/ here"})
        if raw_path == "/rest/v1" or raw_path.startswith("/rest/v1/"):
            self._route = "rest"
            return self._serve_rest(raw_path, query)
        try:
            chunked, length = self._body_framing()
            self._body_consumed = not chunked and length == 0
            self._serve_api(raw_path, query)
        except StorageError as e:
            if not self._body_consumed and not e.before_body:
                # Like Node, which dumps an unread body and keeps the connection.
                self._discard_body()
            if not self._body_consumed:
                self._send_error(e)
                self._drain_after_refusal()
            else:
                self._send_error(e)
        except BadBody as e:
            self.close_connection = True
            self._send_error(err_invalid_request(str(e), error="Bad Request"))

    def _serve_api(self, raw_path, query):
        emu = self.emu
        if not raw_path.startswith(API_PREFIX + "/"):
            # The hosted gateway (Kong) answers paths it has no route for.
            self._route = "gateway 404"
            self._count_request()
            self._discard_body()
            return self._send_json(404, {"message": "no Route matched with those values"})
        path = raw_path[len(API_PREFIX):]
        route, params = route_of(self.command, path)
        self._route = route or "not found"
        self._count_request()

        latency, fault = emu.pick_fault(self.command, self._route, path)
        if latency > 0:
            emu.count_fault("latency")
            time.sleep(latency)
        if fault is not None:
            kind, arg = fault
            if kind == "drop_request":
                emu.count_fault("drop_request")
                self._drop_mid_request()
            elif kind == "stall":
                emu.count_fault("stall")
                self._discard_or_keep_body_for_stall()
            elif kind == "drop_response":
                emu.count_fault("drop_response")
                self._drop_response = True
            else:
                self._discard_body()
                if kind == "burst_429":
                    emu.count_fault("burst_429")
                    return self._send_error(err_slow_down())
                if kind == "status":
                    emu.count_fault("status:%d" % arg)
                    return self._send_error(status_fault_error(arg))
                if kind == "envelope":
                    emu.count_fault("envelope:%s" % arg)
                    return self._send_error(ENVELOPE_FAULTS[arg]())
                if kind == "html":
                    emu.count_fault("html:%d" % arg)
                    ray = "%016x-AMS" % emu.rng.getrandbits(64)
                    html, ctype = cloudflare_html(arg, ray)
                    return self._send(arg, [("Content-Type", ctype), ("Server", "cloudflare"),
                                            ("CF-RAY", ray)], html.encode("utf-8"))

        if route is None:
            self._discard_body()
            return self._send_json(404, {"message": "Route %s:%s not found" % (self.command, path),
                                         "error": "Not Found", "statusCode": 404})
        if route.startswith("NI "):
            self._discard_body()
            raise err_not_implemented(route[3:])
        gw = self._gateway_check(route, query)
        if gw is not None:
            self._discard_body()
            return self._send_json(401, gw)
        handler = {
            "POST /object/{bucket}/{path}": self._upload,
            "PUT /object/{bucket}/{path}": self._upload,
            "DELETE /object/{bucket}": self._delete_many,
            "DELETE /object/{bucket}/{path}": self._delete_one,
            "POST /object/list/{bucket}": self._list,
            "GET /object/public/{bucket}/{path}": self._get_public,
            "HEAD /object/public/{bucket}/{path}": self._get_public,
            "GET /object/{bucket}/{path}": self._get_auth,
            "HEAD /object/{bucket}/{path}": self._get_auth,
            "GET /object/authenticated/{bucket}/{path}": self._get_auth,
            "HEAD /object/authenticated/{bucket}/{path}": self._get_auth,
            "DELETE /cdn": self._cdn_purge,
        }[route]
        handler(params, query)

    def _serve_rest(self, raw_path, query):
        """PostgREST stand-in (postgrest_standin.py). Never logs a header or a body."""
        emu = self.emu
        try:
            chunked, length = self._body_framing()
            self._body_consumed = not chunked and length == 0
            body = self._read_body(limit=1024 * 1024)
        except (BodyTooLarge, BadBody):
            self.close_connection = True
            return self._send_json(413, {"message": "request body too large"})
        method = self.command
        role = None
        status = 500
        payload = None
        try:
            apikey = self.headers.get("apikey")
            if apikey is None or not (_eq(apikey, emu.service_key) or _eq(apikey, emu.anon_key)):
                status = 401
                return self._send_json(401, {
                    "message": "Invalid API key" if apikey is not None else "No API key found in request",
                    "hint": "Double check your Supabase `anon` or `service_role` API key."})
            bearer = self._bearer()
            token = bearer if bearer is not None else apikey
            if emu.service_key and _eq(token, emu.service_key):
                role = "service"
            elif emu.anon_key and _eq(token, emu.anon_key):
                role = "anon"
            else:
                status = 401
                return self._send_json(401, {"code": "PGRST301", "details": None, "hint": None,
                                             "message": "JWSError JWSInvalidSignature"})
            with emu.lock:
                fail = emu.rest_fail
                if fail["status"] and fail["count"] != 0:
                    if fail["count"] > 0:
                        fail["count"] -= 1
                    status = fail["status"]
                    return self._send_json(status, {"code": "PGRST000", "details": None, "hint": None,
                                                    "message": "stand-in fault"})
            table = raw_path[len("/rest/v1/"):].strip("/")
            if table != postgrest_standin.TABLE:
                raise postgrest_standin.RestError(
                    404, "PGRST205", "Could not find the table 'public.%s' in the schema cache" % table)
            params = parse_qs(query)
            if method == "POST":
                try:
                    payload = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise postgrest_standin.RestError(400, "PGRST102", "Empty or invalid json")
                prefer = postgrest_standin.prefer_of(self.headers.get("Prefer"))
                on_conflict = (params.get("on_conflict") or [None])[0]
                status, out = emu.rest.upsert(role, payload, on_conflict, prefer)
            elif method in ("GET", "HEAD"):
                status, out = emu.rest.select(role, query)
            else:
                raise postgrest_standin.RestError(501, "PGRST000", "stand-in: %s is not emulated" % method)
            if out is None:
                return self._send(status, [("Content-Range", "*/*")])
            return self._send_json(status, out, [("Content-Range", "0-%d/*" % (len(out) - 1))])
        except postgrest_standin.RestError as e:
            status = e.status
            return self._send_json(e.status, e.body)
        finally:
            emu.rest.note(method, role, status, payload)

    def _count_request(self):
        with self.emu.lock:
            st = self.emu.stats
            st.requests_total += 1
            r = st.routes.setdefault(self._route, {"requests": 0, "bytes_in": 0})
            r["requests"] += 1

    # ---- faults on the wire ----
    def _drop_mid_request(self):
        chunked, length = self._body_framing()
        if length:
            self._send_continue()
            half = length // 2
            got = 0
            while got < half:
                data = self.rfile.read(min(half - got, 65536))
                if not data:
                    break
                got += len(data)
                self._count_in(len(data))
        raise Abort()

    def _discard_or_keep_body_for_stall(self):
        """Stall: the request (body included) is read, then nothing is sent for
        stall_seconds; with stall_seconds null the answer never comes."""
        with self.emu.lock:
            seconds = self.emu.faults["stall_seconds"]
            gen = self.emu.stall_generation
        # Keep the body so that a finite stall can still be answered normally.
        try:
            body = self._read_body()
        except (BodyTooLarge, BadBody):
            raise Abort()
        self._prefetched_body = body
        self._body_consumed = True
        deadline = None if seconds is None else time.monotonic() + seconds
        sock = self.connection
        while True:
            with self.emu.lock:
                released = self.emu.shutting_down or self.emu.stall_generation != gen
            if released:
                raise Abort()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            wait = 0.05 if deadline is None else max(0.0, min(0.05, deadline - now))
            try:
                r, _, _ = select.select([sock], [], [], wait)
                if r:
                    peek = sock.recv(1, socket.MSG_PEEK)
                    if not peek:
                        raise Abort()  # the client gave up
                    time.sleep(wait)
            except (OSError, ValueError):
                raise Abort()

    # ---- auth ----
    def _gateway_check(self, route, query):
        """The hosted API gateway in front of storage. Returns a 401 body or None."""
        if route.startswith("GET /object/public/") or route.startswith("HEAD /object/public/"):
            return None
        emu = self.emu
        apikey = self.headers.get("apikey")
        if apikey is None and query:
            apikey = (parse_qs(query).get("apikey") or [None])[0]
        ua = self.headers.get("User-Agent") or ""
        bearer = self._bearer()
        if (apikey or "").startswith("sb_secret_") or (bearer or "").startswith("sb_secret_"):
            if "Mozilla/" in ua:
                return {"message": "Forbidden use of secret API key in browser"}
        if apikey is None:
            if emu.require_apikey:
                return {"message": "No API key found in request",
                        "hint": "No `apikey` request header or url param was found."}
            return None
        if not (_eq(apikey, emu.service_key) or _eq(apikey, emu.anon_key)):
            return {"message": "Invalid API key",
                    "hint": "Double check your Supabase `anon` or `service_role` API key."}
        return None

    def _bearer(self):
        auth = self.headers.get("Authorization")
        if auth is None:
            return None
        return re.sub(r"^Bearer\s+", "", auth, flags=re.I)

    def _role(self):
        """'service' or 'anon'; raises the AccessDenied envelope otherwise.

        src/http/plugins/jwt.ts: the token is Authorization minus 'Bearer '; a token that
        does not verify gives AccessDenied (HTTP 400, body 403) with the verifier's
        message. An sb_secret_ key is not a JWT: it is accepted in Authorization only
        when it is exactly the apikey header too."""
        emu = self.emu
        token = self._bearer() or ""
        if emu.service_key and _eq(token, emu.service_key):
            if token.startswith("sb_secret_") and not _eq(self.headers.get("apikey") or "", token):
                raise err_access_denied("Invalid Compact JWS")
            return "service"
        if emu.anon_key and _eq(token, emu.anon_key):
            return "anon"
        if token.count(".") == 2:
            raise err_access_denied("signature verification failed")
        raise err_access_denied("Invalid Compact JWS")

    # ---- routes ----
    def _object_name(self, params):
        try:
            bucket = unquote(params["bucket"], errors="strict")
        except UnicodeDecodeError:
            raise err_no_such_bucket()
        raw = params.get("name", "")
        try:
            name = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise err_invalid_key(raw)
        return bucket, name

    def _upload(self, params, query):
        emu = self.emu
        role = self._role()
        bucket_name, name = self._object_name(params)
        if not name or not VALID_KEY_RE.match(name):
            raise err_invalid_key(name)
        with emu.lock:
            bucket = emu.buckets.get(bucket_name)
            limit = emu.global_limit
            if bucket is not None and bucket.file_size_limit:
                limit = min(limit, bucket.file_size_limit)
            allowed = list(bucket.allowed_mime_types) if bucket and bucket.allowed_mime_types else None
        if bucket is None:
            raise err_no_such_bucket()
        if role != "service":
            raise err_access_denied("new row violates row-level security policy")
        ctype = self.headers.get("Content-Type") or ""
        chunked, length = self._body_framing()
        is_multipart = ctype.startswith("multipart/form-data")
        if not chunked and not is_multipart and length > limit:
            raise err_too_large()  # refused before a byte of the body is read
        user_metadata = None
        if is_multipart:
            # A form carries some overhead besides the file; the file itself is checked below.
            try:
                body = self._read_body(limit=limit + 1024 * 1024)
            except BodyTooLarge:
                raise err_too_large()
            data, mimetype, cache_control, user_metadata = parse_multipart(ctype, body)
            if len(data) > limit:
                raise err_too_large()
            if allowed and not mime_allowed(mimetype, allowed):
                raise err_mime(mimetype)
        else:
            mimetype = ctype or "application/octet-stream"
            cc = self.headers.get_all("Cache-Control")
            cache_control = ", ".join(cc) if cc is not None else "no-cache"
            if allowed and not mime_allowed(mimetype, allowed):
                raise err_mime(mimetype)
            xm = self.headers.get("x-metadata")
            if xm:
                try:
                    user_metadata = json.loads(base64.b64decode(xm))
                except (ValueError, TypeError):
                    user_metadata = None
            try:
                data = self._read_body(limit=limit)
            except BodyTooLarge:
                raise err_too_large()
        upsert = self.command == "PUT" or self.headers.get("x-upsert") == "true"
        with emu.lock:
            key = (bucket_name, name)
            old = emu.objects.get(key)
            if old is not None and not upsert:
                raise err_key_exists()
            if bucket_name not in emu.buckets:
                raise err_no_such_bucket()
            obj = StoredObject(bucket_name, name, data, mimetype, cache_control, user_metadata,
                               old=old)
            emu.objects[key] = obj
            emu.stats.writes.append({"name": "%s/%s" % (bucket_name, name), "sha256": obj.sha256,
                                     "size": len(data), "time": time.time(),
                                     "method": self.command, "upsert": upsert,
                                     "content_type": mimetype, "cache_control": cache_control})
        self._send_json(200, {"Key": "%s/%s" % (bucket_name, name), "Id": obj.id})

    def _json_body(self):
        try:
            body = self._read_body(limit=10 * 1024 * 1024)
        except BodyTooLarge:
            raise err_too_large()
        try:
            return json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            raise err_invalid_request("Body is not valid JSON", error="Bad Request")

    def _delete_many(self, params, query):
        emu = self.emu
        role = self._role()
        bucket_name, _ = self._object_name(params)
        body = self._json_body()
        if not isinstance(body, dict) or "prefixes" not in body:
            raise err_invalid_request("body must have required property 'prefixes'",
                                      error="Bad Request")
        prefixes = body["prefixes"]
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise err_invalid_request("body/prefixes must be array of string", error="Bad Request")
        if len(prefixes) < 1:
            raise err_invalid_request("body/prefixes must NOT have fewer than 1 items",
                                      error="Bad Request")
        if emu.delete_limit and len(prefixes) > emu.delete_limit:
            raise err_invalid_request("Bulk object requests are limited to %d objects per request."
                                      % emu.delete_limit)
        deleted = []
        if role == "service":
            with emu.lock:
                for p in prefixes:
                    obj = emu.objects.pop((bucket_name, p), None)
                    if obj is not None:
                        deleted.append(obj.row())
        # anon: no delete policy, so RLS silently deletes nothing.
        self._send_json(200, deleted)

    def _delete_one(self, params, query):
        emu = self.emu
        role = self._role()
        self._discard_body()
        bucket_name, name = self._object_name(params)
        with emu.lock:
            if (bucket_name, name) not in emu.objects:
                raise err_no_such_key()
            if role != "service":
                raise err_access_denied("Access denied")
            del emu.objects[(bucket_name, name)]
        self._send_json(200, {"message": "Successfully deleted"})

    def _list(self, params, query):
        emu = self.emu
        self._role()
        bucket_name, _ = self._object_name(params)
        body = self._json_body()
        if not isinstance(body, dict) or "prefix" not in body:
            raise err_invalid_request("body must have required property 'prefix'",
                                      error="Bad Request")
        prefix = body.get("prefix") or ""
        if not isinstance(prefix, str):
            raise err_invalid_request("body/prefix must be string", error="Bad Request")
        limit = body.get("limit", 100)
        offset = body.get("offset", 0)
        search = body.get("search") or ""
        sort = body.get("sortBy") or {}
        column = sort.get("column", "name") if isinstance(sort, dict) else "name"
        order = (sort.get("order", "asc") if isinstance(sort, dict) else "asc") or "asc"
        if not isinstance(limit, int) or limit < 1:
            raise err_invalid_request("body/limit must be >= 1", error="Bad Request")
        if not isinstance(offset, int) or offset < 0:
            raise err_invalid_request("body/offset must be >= 0", error="Bad Request")
        if column not in ("name", "updated_at", "created_at", "last_accessed_at"):
            column = "name"
        desc = str(order).lower() == "desc"
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        levels = len(prefix.split("/"))
        pattern = (prefix + search).lower()
        with emu.lock:
            objs = [o for (b, _n), o in emu.objects.items()
                    if b == bucket_name and o.name.lower().startswith(pattern)]
            folders = set()
            files = []
            for o in objs:
                tokens = o.name.split("/")
                if len(tokens) == levels:
                    files.append(o)
                elif len(tokens) > levels:
                    folders.add(tokens[levels - 1])
            folder_rows = [{"name": f, "id": None, "updated_at": None, "created_at": None,
                            "last_accessed_at": None, "metadata": None}
                           for f in sorted(folders, reverse=desc)]

            def sort_key(o):
                if column == "name":
                    return o.name.split("/")[levels - 1]
                return getattr(o, column)

            files.sort(key=sort_key, reverse=desc)
            file_rows = [{"name": o.name.split("/")[levels - 1], "id": o.id,
                          "updated_at": iso_ms(o.updated_at), "created_at": iso_ms(o.created_at),
                          "last_accessed_at": iso_ms(o.last_accessed_at),
                          "metadata": o.metadata()} for o in files]
        rows = (folder_rows + file_rows)[offset:offset + limit]
        self._send_json(200, rows)

    def _get_public(self, params, query):
        emu = self.emu
        self._discard_body()
        bucket_name, name = self._object_name(params)
        with emu.lock:
            bucket = emu.buckets.get(bucket_name)
            obj = emu.objects.get((bucket_name, name))
        if bucket is None or not bucket.public:
            raise err_no_such_bucket()
        if obj is None:
            raise err_no_such_key()
        download = None
        if query:
            qs = parse_qs(query, keep_blank_values=True)
            if "download" in qs:
                download = qs["download"][0]
        self._render(obj, download)

    def _get_auth(self, params, query):
        self._role()
        self._discard_body()
        bucket_name, name = self._object_name(params)
        with self.emu.lock:
            obj = self.emu.objects.get((bucket_name, name))
        if obj is None:
            raise err_no_such_key()
        self._render(obj, None)

    def _render(self, obj, download):
        """src/storage/renderer/renderer.ts with the file backend (ETag = quoted md5)."""
        emu = self.emu
        data = obj.data
        size = len(data)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        status = 200
        content_range = None
        body = data
        if inm and inm == obj.etag:
            status = 304
        elif ims and not inm:
            try:
                t = email.utils.parsedate_to_datetime(ims).timestamp()
                if int(obj.updated_at) <= t:
                    status = 304
            except (TypeError, ValueError):
                pass
        if status == 304:
            if emu.bare_304:
                return self._send(304, [], b"", content_length=0)
            body = b""
        else:
            rng = self.headers.get("Range")
            if rng:
                parsed = parse_range(rng, size)
                if parsed == "invalid":
                    raise StorageError(416, "InvalidRange", "InvalidRange",
                                       "The requested range is not satisfiable")
                if parsed is not None:
                    start, end = parsed
                    status = 206
                    body = data[start:end + 1]
                    content_range = "bytes %d-%d/%d" % (start, end, size)
        ctype = obj.content_type
        if "text/html" in ctype.lower():
            ctype = "text/plain"
        headers = [("Accept-Ranges", "bytes"), ("Content-Type", ctype), ("ETag", obj.etag),
                   ("X-Robots-Tag", "none"), ("Last-Modified", http_date(obj.updated_at))]
        additions = []
        if inm and emu.s_maxage > 0:
            additions.append("s-maxage=%d" % emu.s_maxage)
        if inm and inm != obj.etag:
            additions.append("stale-while-revalidate=30")
        cc = merge_cache_control(obj.cache_control, additions)
        if cc:
            headers.append(("Cache-Control", cc))
        if content_range:
            headers.append(("Content-Range", content_range))
        if download is not None:
            if download == "":
                headers.append(("Content-Disposition", "attachment;"))
            else:
                enc = quote(download, safe="-_.!~")
                fallback = re.sub(r'[^\x20-\x7e]|["\\]', "_", download)
                if not re.match(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$", fallback):
                    fallback = '"%s"' % fallback
                headers.append(("Content-Disposition",
                                "attachment; filename=%s; filename*=UTF-8''%s" % (fallback, enc)))
        self._send(status, headers, body, content_length=len(body))

    def _cdn_purge(self, params, query):
        """src/http/routes/cdn: service role only (a real 403 otherwise), tenant feature
        purgeCache. Nothing to purge here: the emulator has no CDN."""
        role = self._role()
        self._discard_body()
        if role != "service":
            raise err_access_denied("Access denied: Invalid role", http_status=403)
        if not self.emu.cdn_purge:
            raise StorageError(409, "FeatureNotEnabled", "FeatureNotEnabled",
                               "The feature purgeCache is not enabled for this resource")
        self._send_json(200, {"message": "success"})

    # ---- control API ----
    def _control(self, path, query):
        emu = self.emu
        with emu.lock:
            emu.stats.control_requests += 1
        try:
            body = self._read_body(limit=16 * 1024 * 1024)
            spec = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError, BodyTooLarge, BadBody):
            self.close_connection = True
            return self._send_json(400, {"error": "body must be JSON"})
        m, p = self.command, path[len(CONTROL_PREFIX):].rstrip("/")
        try:
            if m == "GET" and p == "health":
                return self._send_json(200, {"ok": True})
            if m == "GET" and p == "stats":
                return self._send_json(200, emu.stats_snapshot())
            if m == "GET" and p == "writes":
                since = int(parse_qs(query).get("since", ["0"])[0])
                with emu.lock:
                    w = emu.stats.writes[since:]
                    n = len(emu.stats.writes)
                return self._send_json(200, {"writes": w, "next": n})
            if m == "GET" and p == "objects":
                with emu.lock:
                    objs = [{"bucket": o.bucket, "name": o.name, "size": len(o.data),
                             "sha256": o.sha256, "etag": o.etag, "content_type": o.content_type,
                             "cache_control": o.cache_control, "id": o.id,
                             "created_at": o.created_at, "updated_at": o.updated_at}
                            for o in sorted(emu.objects.values(), key=lambda o: (o.bucket, o.name))]
                return self._send_json(200, {"objects": objs})
            if p == "faults":
                if m == "GET":
                    with emu.lock:
                        return self._send_json(200, dict(emu.faults))
                if m in ("POST", "PUT", "PATCH"):
                    f = emu.set_faults(spec, merge=(m == "PATCH"))
                    return self._send_json(200, f)
            if m == "POST" and p == "outage":
                seconds = float(spec.get("seconds", 0))
                if seconds <= 0:
                    emu.end_outage()
                    return self._send_json(200, {"ok": True, "outage": "ending"})
                self._send_json(200, {"ok": True, "seconds": seconds})
                emu.start_outage(seconds)
                return
            if m == "POST" and p == "reset":
                emu.reset(spec)
                return self._send_json(200, {"ok": True})
            if m == "POST" and p == "release":
                emu.release_stalls()
                return self._send_json(200, {"ok": True})
            if m == "GET" and p == "buckets":
                with emu.lock:
                    return self._send_json(200, [b.describe() for b in emu.buckets.values()])
            if m == "POST" and p == "buckets":
                name = spec.get("name")
                if not isinstance(name, str) or not name:
                    return self._send_json(400, {"error": "name is required"})
                limit = parse_size(spec.get("file_size_limit"))
                b = Bucket(name, spec.get("public", False), spec.get("allowed_mime_types"), limit)
                with emu.lock:
                    emu.buckets[name] = b
                return self._send_json(200, b.describe())
            if m == "DELETE" and p.startswith("buckets/"):
                name = unquote(p[len("buckets/"):])
                with emu.lock:
                    existed = emu.buckets.pop(name, None) is not None
                    for k in [k for k in emu.objects if k[0] == name]:
                        del emu.objects[k]
                return self._send_json(200 if existed else 404, {"deleted": existed})
            if m == "GET" and p == "rest":
                return self._send_json(200, emu.rest.snapshot())
            if m == "POST" and p == "rest/fail":
                with emu.lock:
                    emu.rest_fail = {"status": spec.get("status"), "count": int(spec.get("count", -1))}
                return self._send_json(200, dict(emu.rest_fail))
            if m == "POST" and p == "keys":
                with emu.lock:
                    if "service_key" in spec:
                        emu.service_key = spec["service_key"] or None
                    if "anon_key" in spec:
                        emu.anon_key = spec["anon_key"] or None
                return self._send_json(200, {"ok": True})
        except (ValueError, TypeError, re.error) as e:
            return self._send_json(400, {"error": str(e)})
        return self._send_json(404, {"error": "unknown control endpoint %s %s" % (m, path)})


def _eq(a, b):
    if a is None or b is None:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def parse_range(header, size):
    """'bytes=a-b' | 'bytes=a-' | 'bytes=-n' -> (start, end); None to ignore the header
    (not bytes, several ranges); 'invalid' when it cannot be satisfied."""
    m = re.match(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", header)
    if not m:
        return None
    a, b = m.group(1), m.group(2)
    if a == "" and b == "":
        return None
    if a == "":
        n = int(b)
        if n == 0:
            return "invalid"
        return max(0, size - n), size - 1
    start = int(a)
    end = int(b) if b else size - 1
    if start >= size or end < start:
        return "invalid"
    return start, min(end, size - 1)


def parse_multipart(content_type, body):
    """One file part; fields cacheControl (seconds -> 'max-age=N', default 'no-cache'),
    contentType, metadata (JSON)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise err_invalid_request("Unexpected empty file received", error="empty_file")
    fields = {}
    file_data = None
    file_type = None
    for part in msg.iter_parts():
        disp = part.get("Content-Disposition", "")
        params = dict(part.get_params(header="content-disposition") or [])
        name = params.get("name", "")
        payload = part.get_payload(decode=True) or b""
        if "filename" in params or (file_data is None and name in ("", "file")):
            if file_data is None:
                file_data = payload
                file_type = part.get_content_type() if part.get("Content-Type") else None
        elif disp:
            fields[name] = payload.decode("utf-8", "replace")
    if file_data is None:
        raise err_invalid_request("No file provided", error="no_file_provided")
    mimetype = fields.get("contentType") or file_type or "application/octet-stream"
    cache = fields.get("cacheControl")
    cache_control = "max-age=%s" % cache if cache else "no-cache"
    meta = None
    if "metadata" in fields:
        try:
            meta = json.loads(fields["metadata"])
        except ValueError:
            meta = None
    return file_data, mimetype, cache_control, meta


# --------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang
        # on a machine without a resolver; loopback needs none.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Server6(_Server):
    address_family = socket.AF_INET6


class Listener:
    """A ThreadingHTTPServer that can be stopped (listening socket closed) and started
    again on the same port."""

    def __init__(self, emu, host, port, kind):
        self.emu = emu
        self.host = host
        self.port = port
        self.kind = kind
        self.server = None
        self.thread = None

    def start(self, attempts=200):
        cls = _Server6 if ":" in self.host else _Server
        last = None
        for _ in range(attempts):
            try:
                srv = cls((self.host, self.port), Handler)
                break
            except OSError as e:
                last = e
                time.sleep(0.05)
        else:
            raise last
        srv.emu = self.emu
        srv.kind = self.kind
        self.port = srv.server_address[1]
        self.server = srv
        self.thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        srv = self.server
        if srv is None:
            return
        self.server = None
        srv.shutdown()
        srv.server_close()

    def url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (host, self.port)


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------

def _rate_pairs(values, what):
    out = {}
    for v in values or []:
        for item in v.split(","):
            if not item.strip():
                continue
            k, sep, p = item.partition("=")
            if not sep:
                raise SystemExit("--fault-%s expects KEY=RATE, got %r" % (what, item))
            out[k.strip()] = float(p)
    return out


def build_arg_parser():
    ap = argparse.ArgumentParser(
        description="Local Supabase Storage REST emulator with fault injection (tests only).")
    ap.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default) or ::1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    ap.add_argument("--control-port", type=int, default=None,
                    help="also serve /__control/ on this port (0 = pick one); it stays up "
                         "during an outage. Printed as 'control http://...' before 'ready'.")
    ap.add_argument("--bucket", action="append", default=[],
                    help="create this bucket (repeatable); the bucket flags below apply to all")
    ap.add_argument("--public", action="store_true", help="buckets are public")
    ap.add_argument("--allowed-mime", action="append", default=None,
                    help="allowed_mime_types entry, e.g. video/mp2t or video/* (repeatable, "
                         "or comma-separated)")
    ap.add_argument("--file-size-limit", default=None,
                    help="bucket file_size_limit: bytes or 5MB/300KB (1000-based, as the server)")
    ap.add_argument("--global-file-size-limit", default=str(DEFAULT_GLOBAL_FILE_SIZE_LIMIT),
                    help="server upload limit (default 52428800, the standard-upload limit)")
    ap.add_argument("--service-key", default=os.environ.get("SUPABASE_EMULATOR_SERVICE_KEY"),
                    help="key with full access (or env SUPABASE_EMULATOR_SERVICE_KEY)")
    ap.add_argument("--anon-key", default=os.environ.get("SUPABASE_EMULATOR_ANON_KEY"),
                    help="read-only key (or env SUPABASE_EMULATOR_ANON_KEY)")
    ap.add_argument("--require-apikey", action="store_true",
                    help="gateway: refuse (HTTP 401) requests with no apikey header")
    ap.add_argument("--s-maxage", type=int, default=0,
                    help="RESPONSE_S_MAXAGE: appended to Cache-Control on If-None-Match reads")
    ap.add_argument("--bare-304", action="store_true",
                    help="304 without headers, as the S3 backend renders it (default: the "
                         "file backend's 304 with ETag/Cache-Control/...)")
    ap.add_argument("--delete-limit", type=int, default=DEFAULT_DELETE_LIMIT,
                    help="max prefixes per bulk delete (REQUEST_HARD_LIMITS); 0 = no cap")
    ap.add_argument("--no-cdn-purge", action="store_true",
                    help="tenant lacks the purgeCache feature (Free plan)")
    ap.add_argument("--seed", type=int, default=None, help="seed for fault randomness")
    ap.add_argument("--verbose", action="store_true",
                    help="log method, path and status to stderr (never headers or keys)")
    g = ap.add_argument_group("faults (all can be changed at run time: POST /__control/faults)")
    g.add_argument("--faults", default=None, help="a full fault spec as JSON")
    g.add_argument("--fault-latency-ms", type=float, default=None)
    g.add_argument("--fault-jitter-ms", type=float, default=None)
    g.add_argument("--fault-error-rate", action="append", default=None, metavar="STATUS=P",
                   help="real HTTP status at rate P, e.g. 503=0.3,429=0.1,544=0.05,500=0.05")
    g.add_argument("--fault-envelope-rate", action="append", default=None, metavar="CODE=P",
                   help="HTTP 400 envelope with this code at rate P, e.g. LockTimeout=0.1 "
                        "(%s)" % ", ".join(sorted(ENVELOPE_FAULTS)))
    g.add_argument("--fault-html-rate", action="append", default=None, metavar="STATUS=P",
                   help="Cloudflare-style HTML page at rate P, e.g. 502=0.1,504=0.1,403=0.05")
    g.add_argument("--fault-burst-429", type=int, default=None, metavar="N",
                   help="the next N requests get 429 SlowDown")
    g.add_argument("--fault-stall-rate", type=float, default=None)
    g.add_argument("--fault-stall-seconds", type=float, default=None,
                   help="answer a stalled request after S s (default: never answer)")
    g.add_argument("--fault-drop-request-rate", type=float, default=None)
    g.add_argument("--fault-drop-response-rate", type=float, default=None)
    g.add_argument("--fault-methods", default=None, help="only fault these methods (comma list)")
    g.add_argument("--fault-path-regex", default=None, help="only fault matching paths")
    g.add_argument("--fault-outage-seconds", type=float, default=None,
                   help="refuse connections for N s, starting --fault-outage-after s after ready")
    g.add_argument("--fault-outage-after", type=float, default=0.0)
    return ap


def faults_from_args(args):
    spec = json.loads(args.faults) if args.faults else {}
    if args.fault_latency_ms is not None:
        spec["latency_ms"] = args.fault_latency_ms
    if args.fault_jitter_ms is not None:
        spec["jitter_ms"] = args.fault_jitter_ms
    if args.fault_error_rate:
        spec["error_rates"] = _rate_pairs(args.fault_error_rate, "error-rate")
    if args.fault_envelope_rate:
        spec["envelope_rates"] = _rate_pairs(args.fault_envelope_rate, "envelope-rate")
    if args.fault_html_rate:
        spec["html_rates"] = _rate_pairs(args.fault_html_rate, "html-rate")
    if args.fault_burst_429 is not None:
        spec["burst_429"] = args.fault_burst_429
    if args.fault_stall_rate is not None:
        spec["stall_rate"] = args.fault_stall_rate
    if args.fault_stall_seconds is not None:
        spec["stall_seconds"] = args.fault_stall_seconds
    if args.fault_drop_request_rate is not None:
        spec["drop_request_rate"] = args.fault_drop_request_rate
    if args.fault_drop_response_rate is not None:
        spec["drop_response_rate"] = args.fault_drop_response_rate
    if args.fault_methods:
        spec["methods"] = [m.strip() for m in args.fault_methods.split(",") if m.strip()]
    if args.fault_path_regex:
        spec["path_regex"] = args.fault_path_regex
    return spec


def main(argv=None):
    ap = build_arg_parser()
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--host must be a loopback address (127.0.0.1 or ::1)")
    if args.host == "localhost":
        args.host = "127.0.0.1"
    if args.allowed_mime:
        args.allowed_mime = [m.strip() for v in args.allowed_mime for m in v.split(",") if m.strip()]
    try:
        args.file_size_limit = parse_size(args.file_size_limit)
        args.global_file_size_limit = parse_size(args.global_file_size_limit)
        fault_spec = faults_from_args(args)
        validate_faults(fault_spec)
    except ValueError as e:
        ap.error(str(e))
    if not args.service_key:
        ap.error("--service-key (or SUPABASE_EMULATOR_SERVICE_KEY) is required")

    emu = Emulator(args)
    startup_outage = fault_spec.pop("outage_seconds", None)
    if startup_outage and not args.fault_outage_seconds:
        args.fault_outage_seconds = float(startup_outage)
    emu.set_faults(fault_spec)
    emu.main = Listener(emu, args.host, args.port, "main")
    emu.main.start(attempts=1)
    if args.control_port is not None:
        emu.control = Listener(emu, args.host, args.control_port, "control")
        emu.control.start(attempts=1)
        print("control %s" % emu.control.url(), flush=True)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("ready %s" % emu.main.url(), flush=True)

    if args.fault_outage_seconds:
        def later():
            if not stop.wait(args.fault_outage_after):
                emu.start_outage(args.fault_outage_seconds)
        threading.Thread(target=later, daemon=True).start()

    while not stop.wait(0.5):
        pass
    emu.shutting_down = True
    emu.release_stalls()
    for lst in (emu.main, emu.control):
        if lst is not None:
            lst.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
