#!/usr/bin/env python3
"""Cameras register themselves (issue 13): with Supabase configured, the daemon keeps each
camera's row in the `cameras` table current through PostgREST (the emulator's stand-in,
tests/tools/postgrest_standin.py; the real SQL and RLS: supabase/tests/test_migration.sh).

One daemon, two cameras, each on its own es-testcam, `storage: [local, supabase]`,
supabase.heartbeat_s 3. Proves:
  - both rows are created on first start (upsert on camera_key, service role), with
    stream_url = the public URL of the camera's playlist in the bucket, status active,
    last_seen_at, upload_ms and latency_ms;
  - last_seen_at advances with the heartbeat while the camera streams;
  - a camera whose es-testcam dies flips to offline within OFFLINE_BOUND s, while the
    other stays active and fresh; its last_seen_at stays at when it was last seen;
  - it flips back to active when its camera returns;
  - a REST outage (503 for a while) is retried with backoff and the rows become current
    again; a refusal (401) is one WARN and one request per recheck_s, and current again
    once lifted; the rows are never deleted, and on a clean stop both say offline;
  - the service key never appears in the daemon's log or output.
"""

import json
import os
import sys
import time
import urllib.request
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import storage_harness as sh  # noqa: E402

CAMS = ["cam_reg_a", "cam_reg_b"]
HEARTBEAT = 3
SEGMENT = 1
# The camera's loss is noticed at its read timeout, then OFFLINE_AFTER (5 s) without
# streaming; generous.
OFFLINE_BOUND = 30.0


def ts(text):
    return datetime.fromisoformat(text).timestamp() if text else None


class RegistrationTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("registration")
        cls.key = sh.new_key()
        cls.anon = sh.new_key("anon_")
        cls.emu = sh.Emulator(cls.wd, cls.key, anon_key=cls.anon)
        cls.cams = {c: h.TestCam(cls.wd, f"testcam-{c}") for c in CAMS}
        cls.daemon = None
        try:
            cls._run()
        except BaseException:
            cls.failed = True
            h.kill_all_started()
            raise

    @classmethod
    def rows(cls):
        return {r["camera_key"]: r for r in cls.emu._call("GET", "rest")["rows"]}

    @classmethod
    def _run(cls):
        urls = {c: cam.start() for c, cam in cls.cams.items()}
        cls.emu.start()
        config = sh.storage_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera(c, urls[c], segment_duration=SEGMENT, segments_to_keep=5, transcode="copy",
                     read_timeout_ms=3000, location="location_7")
            for c in CAMS], [
            {"backend": "local", "root": os.path.join(cls.wd, "root")},
            {"backend": "supabase", "url": cls.emu.url, "heartbeat_s": HEARTBEAT,
             "recheck_s": 5},
        ])
        os.environ["SUPABASE_KEY"] = cls.key
        try:
            cls.daemon = h.Daemon(cls.wd, ["--config", config, "--all", "--quiet"])
            cls.t0 = time.time()
            cls.daemon.start()
        finally:
            del os.environ["SUPABASE_KEY"]

    @classmethod
    def tearDownClass(cls):
        h.kill_all_started()
        h.remove_workdir(cls.wd, cls.failed)

    def _wait_rows(self, predicate, timeout, what):
        def check():
            self.assertTrue(self.daemon.alive(), f"edgestream exited with {self.daemon.returncode()}")
            rows = self.rows()
            return rows if predicate(rows) else None
        return h.wait_for(check, timeout, interval=0.25, what=what)

    def test_registration(self):
        report = []
        # 1. Created on first start.
        rows = self._wait_rows(lambda r: all(r.get(c, {}).get("status") == "active" and
                                             r[c].get("latency_ms") is not None for c in CAMS),
                               h.scaled(30), "both rows active with latency figures")
        report.append(f"rows active after {time.time() - self.t0:.1f} s")
        for c in CAMS:
            r = rows[c]
            self.assertEqual(r["stream_url"], self.emu.public_url(f"location_7/{c}/stream.m3u8"))
            self.assertEqual(r["name"], f"Test camera {c}")
            self.assertEqual(r["location_id"], 7)
            self.assertTrue(r["is_active"])
            self.assertIsNotNone(r["last_seen_at"])
            self.assertGreaterEqual(r["upload_ms"], 0)
            self.assertGreaterEqual(r["latency_ms"], 0)
            self.assertLess(r["latency_ms"], 30000, "capture-to-storage latency is sane")
            report.append(f"  {c}: upload_ms={r['upload_ms']} latency_ms={r['latency_ms']} "
                          f"last_seen_at={r['last_seen_at']}")
        # The stream_url plays: the playlist it names is there.
        with urllib.request.urlopen(rows[CAMS[0]]["stream_url"], timeout=5) as resp:
            self.assertIn(b"#EXTM3U", resp.read())
        requests = self.emu._call("GET", "rest")["requests"]
        self.assertTrue(requests and all(q["role"] == "service" and q["method"] == "POST"
                                         for q in requests), "upserts with the service key")

        # 2. last_seen_at advances with the heartbeat.
        first = {c: ts(rows[c]["last_seen_at"]) for c in CAMS}
        rows = self._wait_rows(lambda r: all(ts(r[c]["last_seen_at"]) > first[c] + HEARTBEAT - 1
                                             for c in CAMS),
                               HEARTBEAT * 3 + 5, "last_seen_at advancing")
        report.append("last_seen_at advanced: " + ", ".join(
            f"{c} +{ts(rows[c]['last_seen_at']) - first[c]:.1f} s" for c in CAMS))

        # 3. One camera dies: offline within the bound; the other stays active.
        dead, other = CAMS
        self.cams[dead].kill()
        t_kill = time.time()
        rows = self._wait_rows(lambda r: r[dead]["status"] == "offline", OFFLINE_BOUND,
                               f"{dead} offline")
        t_off = time.time() - t_kill
        report.append(f"{dead} offline {t_off:.1f} s after its camera died")
        self.assertEqual(rows[other]["status"], "active")
        seen_dead = ts(rows[dead]["last_seen_at"])
        self.assertLessEqual(seen_dead, t_kill + 1.5, "last_seen_at stays at the last sight")
        # The other keeps its heartbeat meanwhile.
        self.assertGreater(ts(rows[other]["last_seen_at"]), time.time() - 3 * HEARTBEAT)
        time.sleep(HEARTBEAT + 1)
        rows = self.rows()
        self.assertEqual(rows[dead]["status"], "offline")
        self.assertEqual(ts(rows[dead]["last_seen_at"]), seen_dead, "an offline row keeps it")

        # 4. Back.
        self.cams[dead].start()
        t_back = time.time()
        rows = self._wait_rows(lambda r: r[dead]["status"] == "active" and
                               ts(r[dead]["last_seen_at"]) > t_back - 1, h.scaled(30),
                               f"{dead} active again")
        report.append(f"{dead} active again {time.time() - t_back:.1f} s after it returned")

        # 5. The REST API fails for a while: retried with backoff, current again after.
        before = len(self.emu._call("GET", "rest")["requests"])
        self.emu._call("POST", "rest/fail", {"status": 503, "count": -1})
        t_fail = time.time()
        self.daemon.wait_log(r"registry .*event=register_retrying", h.scaled(15))
        time.sleep(8)
        during = len(self.emu._call("GET", "rest")["requests"]) - before
        self.emu._call("POST", "rest/fail", {"status": None, "count": 0})
        t_ok = time.time()
        report.append(f"REST failing for {t_ok - t_fail:.1f} s: {during} requests (backoff)")
        self.assertLessEqual(during, 10, "the registry backs off")
        rows = self._wait_rows(lambda r: all(ts(r[c]["last_seen_at"]) > t_ok - 1 for c in CAMS),
                               h.scaled(75), "rows current after the REST outage")
        report.append(f"rows current again {time.time() - t_ok:.1f} s after the API returned")
        self.daemon.wait_log(r"registry event=register_recovered", 5)

        # 6. A refusal (the key lost its rights: 401) is one WARN, then one request every
        #    recheck_s (5 s here), and streaming goes on; fixed, the rows are current again.
        refused_before = len(sh.log_events(self.daemon, "register_refused"))
        before = len(self.emu._call("GET", "rest")["requests"])
        self.emu._call("POST", "rest/fail", {"status": 401, "count": -1})
        t_refused = time.time()
        self.daemon.wait_log(r"registry .*event=register_refused", h.scaled(15))
        time.sleep(11)
        during = len(self.emu._call("GET", "rest")["requests"]) - before
        self.emu._call("POST", "rest/fail", {"status": None, "count": 0})
        t_ok = time.time()
        refused = sh.log_events(self.daemon, "register_refused")[refused_before:]
        report.append(f"refused (401) for {t_ok - t_refused:.1f} s: {during} requests, "
                      f"{len(refused)} WARN: {refused[0][3].get('reason') if refused else '-'}")
        self.assertEqual([p[1] for p in refused], ["WARN"], "one WARN for the refusal")
        self.assertIn("service-role", refused[0][3]["reason"])
        self.assertLessEqual(during, 4, "asked again only every recheck_s")
        self._wait_rows(lambda r: all(ts(r[c]["last_seen_at"]) > t_ok - 1 for c in CAMS),
                        h.scaled(20), "rows current after the refusal was lifted")

        # 7. A clean stop reports both offline; nothing is ever deleted.
        rc = self.daemon.stop(timeout=h.scaled(15))
        self.assertEqual(rc, 0)
        rows = self.rows()
        self.assertEqual(sorted(rows), sorted(CAMS))
        self.assertEqual({c: rows[c]["status"] for c in CAMS}, {c: "offline" for c in CAMS})
        methods = {q["method"] for q in self.emu._call("GET", "rest")["requests"]}
        self.assertEqual(methods, {"POST"}, "only upserts, never a delete")
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer")
        self.assertEqual(self.daemon.error_lines(), [])
        self.assertEqual(sh.secrets_in_files(self.wd, [self.key]), [], "the key leaked")
        sys.stderr.write("\n".join(report) + "\n")


if __name__ == "__main__":
    h.run_tests()
