"""TEST STAND-IN for Supabase's REST API (PostgREST) over the `cameras` table, as edgestream's
camera registration (src/app/registry.c) uses it. Python 3 standard library only. It is
served by supabase_emulator.py under /rest/v1/ (the same base URL as Storage, as in a real
project); this module holds the table and PostgREST's rules, the emulator the HTTP side.

What it does (PostgREST 12 behaviour, as documented at docs.postgrest.org, "Tables and
Views", "Insert", "Upsert", "Prefer header", "Errors"):
  POST /rest/v1/cameras[?on_conflict=camera_key|id]
      a JSON object or an array of objects (all with the same keys, else 400 PGRST102);
      `Prefer: resolution=merge-duplicates` updates the columns the payload names on a
      conflict of the on_conflict column (an upsert; columns it does not name keep their
      value), `resolution=ignore-duplicates` keeps the old row; without a resolution a
      duplicate camera_key is 409 (23505). `Prefer: return=representation` answers the rows
      (201), else 201 with no body. All rows of a request, or none.
  GET /rest/v1/cameras[?select=a,b][&col=eq.v][&order=col.asc|desc]
  The table's columns, defaults and CHECK / NOT NULL constraints as the migrations in
  supabase/migrations/ declare them (camera_key pattern, status and profile lists, name
  length, stream_url scheme, non-negative latency figures, updated_at set on every write,
  last_seen_at never later than now()): an unknown column is 400 PGRST204, a violated
  CHECK 400 23514, a missing NOT NULL 400 23502, a bad timestamp/number 400 22007/22P02,
  each with PostgREST's error body {"code","details","hint","message"}.
  Roles: the service key writes and reads every row (service_role, BYPASSRLS); the anon key
  reads only rows with is_active (the RLS policy) and any write is 401 42501 ("permission
  denied for table cameras"), as PostgREST answers an unauthenticated role; any other
  apikey is the gateway's 401 "Invalid API key".

What it does NOT cover (each is tested elsewhere or nowhere):
  - PostgreSQL itself: the SQL, the real RLS policies, grants and triggers are checked on a
    real PostgreSQL by supabase/tests/test_migration.sh; the column list here is a copy
    that must follow the migrations by hand;
  - JWTs (keys are opaque strings compared for equality), Supabase Auth, `authenticated`;
  - PATCH, DELETE, PUT, RPC, other tables and schemas, embedding, the `columns=` parameter,
    filters other than eq., limit/offset, Range, `Prefer: count`, Content-Profile,
    `missing=default`: 501 or ignored;
  - the exact text of PostgreSQL's messages beyond the codes above.
"""

import json
import re
import threading
from datetime import datetime, timezone

TABLE = "cameras"

# supabase/migrations/*.sql, in order: 20261124000000_cameras.sql, then
# 20261203000000_camera_status.sql.
COLUMNS = ("id", "camera_key", "name", "stream_url", "location_id", "status", "is_active",
           "profile", "created_at", "updated_at", "last_seen_at", "upload_ms", "latency_ms")
UNIQUE = ("id", "camera_key")
STATUSES = ("active", "offline", "maintenance", "disabled")
PROFILES = ("ultra-low", "low", "balanced", "stable", "ll")
CAMERA_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STREAM_URL_RE = re.compile(r"^(https?://|/)", re.I)


class RestError(Exception):
    def __init__(self, status, code, message, details=None, hint=None):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "details": details, "hint": hint, "message": message}


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def parse_time(value, column):
    if not isinstance(value, str):
        raise RestError(400, "22007", 'invalid input syntax for type timestamp with time zone: "%s"'
                        % value)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RestError(400, "22007", 'invalid input syntax for type timestamp with time zone: "%s"'
                        % value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t


def check_violation(constraint):
    return RestError(400, "23514", 'new row for relation "cameras" violates check constraint "%s"'
                     % constraint)


def prefer_of(header):
    out = {}
    for part in (header or "").split(","):
        k, _, v = part.strip().partition("=")
        if k:
            out[k.strip().lower()] = v.strip().lower()
    return out


class CamerasTable:
    def __init__(self):
        self.lock = threading.Lock()
        self.rows = []
        self.next_id = 1
        self.requests = []      # (method, role, status, payload or None) of every request

    # ---- the row rules ----
    def _coerce(self, column, value):
        if value is None:
            return None
        if column in ("location_id", "upload_ms", "latency_ms", "id"):
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise RestError(400, "22P02", 'invalid input syntax for type bigint: "%s"' % value)
            try:
                return int(value)
            except ValueError:
                raise RestError(400, "22P02", 'invalid input syntax for type bigint: "%s"' % value)
        if column == "is_active":
            if not isinstance(value, bool):
                raise RestError(400, "22P02", 'invalid input syntax for type boolean: "%s"' % value)
            return value
        if column in ("created_at", "updated_at", "last_seen_at"):
            return parse_time(value, column).isoformat(timespec="microseconds")
        if not isinstance(value, str):
            value = json.dumps(value)
        return value

    def _check(self, row):
        for col in ("name", "stream_url", "status", "is_active", "profile"):
            if row.get(col) is None:
                raise RestError(400, "23502", 'null value in column "%s" of relation "cameras" '
                                'violates not-null constraint' % col)
        if row.get("camera_key") is not None and not CAMERA_KEY_RE.match(row["camera_key"]):
            raise check_violation("cameras_camera_key_check")
        if not 1 <= len(row["name"]) <= 200:
            raise check_violation("cameras_name_check")
        if not STREAM_URL_RE.match(row["stream_url"]):
            raise check_violation("cameras_stream_url_check")
        if row["status"] not in STATUSES:
            raise check_violation("cameras_status_check")
        if row["profile"] not in PROFILES:
            raise check_violation("cameras_profile_check")
        for col in ("upload_ms", "latency_ms"):
            if row.get(col) is not None and row[col] < 0:
                raise check_violation("cameras_%s_check" % col)

    def _clamp_seen(self, row):
        # The migration's trigger: a box whose clock runs ahead cannot keep a camera fresh.
        if row.get("last_seen_at"):
            now = datetime.now(timezone.utc)
            if datetime.fromisoformat(row["last_seen_at"]) > now:
                row["last_seen_at"] = now.isoformat(timespec="microseconds")

    # ---- requests ----
    def upsert(self, role, payload, on_conflict, prefer):
        """Returns (status, body or None)."""
        if role != "service":
            raise RestError(401, "42501", "permission denied for table cameras")
        items = payload if isinstance(payload, list) else [payload]
        if not items or not all(isinstance(i, dict) for i in items):
            raise RestError(400, "PGRST102", "Empty or invalid json")
        keys = set(items[0])
        if any(set(i) != keys for i in items):
            raise RestError(400, "PGRST102", "All object keys must match")
        for k in keys:
            if k not in COLUMNS:
                raise RestError(400, "PGRST204", "Could not find the '%s' column of 'cameras' in "
                                "the schema cache" % k)
        if on_conflict is not None and on_conflict not in UNIQUE:
            raise RestError(400, "42P10", "there is no unique or exclusion constraint matching "
                            "the ON CONFLICT specification")
        resolution = prefer.get("resolution")
        conflict_col = on_conflict or "id"
        with self.lock:
            rows = [dict(r) for r in self.rows]   # all or nothing
            next_id = self.next_id
            out = []
            for item in items:
                values = {k: self._coerce(k, v) for k, v in item.items()}
                existing = None
                if values.get(conflict_col) is not None:
                    existing = next((r for r in rows if r.get(conflict_col) == values[conflict_col]),
                                    None)
                if existing is None and values.get("camera_key") is not None:
                    clash = next((r for r in rows if r.get("camera_key") == values["camera_key"]), None)
                    if clash is not None:
                        raise RestError(409, "23505", 'duplicate key value violates unique '
                                        'constraint "cameras_camera_key_key"')
                if existing is not None:
                    if resolution == "merge-duplicates":
                        row = dict(existing)
                        row.update(values)
                        row["updated_at"] = now_iso()
                        self._clamp_seen(row)
                        self._check(row)
                        existing.clear()
                        existing.update(row)
                        out.append(dict(existing))
                    elif resolution == "ignore-duplicates":
                        continue
                    else:
                        raise RestError(409, "23505", 'duplicate key value violates unique '
                                        'constraint "cameras_%s_key"' % conflict_col)
                else:
                    now = now_iso()
                    row = {c: None for c in COLUMNS}
                    row.update({"status": "active", "is_active": True, "profile": "low",
                                "created_at": now, "updated_at": now})
                    row.update(values)
                    if row["id"] is None:
                        row["id"] = next_id
                        next_id += 1
                    self._clamp_seen(row)
                    self._check(row)
                    rows.append(row)
                    out.append(dict(row))
            self.rows = rows
            self.next_id = next_id
        if prefer.get("return") == "representation":
            return 201, out
        return 201, None

    def select(self, role, query):
        params = []
        for part in (query or "").split("&"):
            if part:
                k, _, v = part.partition("=")
                params.append((k, v))
        with self.lock:
            rows = [dict(r) for r in self.rows]
        if role != "service":
            rows = [r for r in rows if r.get("is_active")]
        select = None
        for k, v in params:
            if k == "select":
                select = None if v in ("", "*") else v.split(",")
                continue
            if k == "order":
                col, _, d = v.partition(".")
                rows.sort(key=lambda r: (r.get(col) is None, str(r.get(col))), reverse=d == "desc")
                continue
            if k not in COLUMNS:
                raise RestError(400, "42703", "column cameras.%s does not exist" % k)
            if not v.startswith("eq."):
                raise RestError(501, "PGRST000", "stand-in: only eq. filters")
            want = v[3:]
            rows = [r for r in rows if (str(r.get(k)).lower() if isinstance(r.get(k), bool)
                                        else str(r.get(k))) == want]
        if select:
            for c in select:
                if c not in COLUMNS:
                    raise RestError(400, "42703", "column cameras.%s does not exist" % c)
            rows = [{c: r.get(c) for c in select} for r in rows]
        return 200, rows

    def snapshot(self):
        with self.lock:
            return {"rows": [dict(r) for r in self.rows], "requests": list(self.requests)}

    def note(self, method, role, status, payload):
        with self.lock:
            self.requests.append({"method": method, "role": role, "status": status,
                                  "payload": payload})
