#!/usr/bin/env python3
"""Reload without a gap, with remote storage (SIGHUP; src/app/app.c reload(),
src/sink/uploader.c; issue 13). test_reload.py proves it for the local sink and the
origin; this test proves it for what the Supabase Storage emulator
(tests/tools/supabase_emulator.py) stores, which viewers of the cloud dashboard read.

A daemon streams three cameras, each from its own es-testcam (which logs one
"session <id> play <path>" line per RTSP PLAY), with `storage: [local, supabase]` and the
key in the environment. Uploads of the segments of the cameras that will stop take 0.6 s
(the emulator's latency): at each reload their streams still have the last segment and
playlist to send while the new streams open. A checker per camera reads the *public*
stored playlist every 200 ms as a player would and fetches every segment the moment it is
named. The config is then rewritten: `keep` untouched, `change` with another segments_to_keep, `gone` removed,
`new` added (on gone's test camera). After SIGHUP:

- keep's stored playlist never shows a discontinuity nor a gap in its media sequence, keeps
  growing, and its test camera saw one RTSP session in all;
- gone's final stored playlist names its last local segment (the removed camera's stream
  drained), names only objects the store holds, stays so after the grace period has
  deleted what left its window, and no later write touches gone's objects;
- change's stored sequence continues (first new msn = the daemon's `resume next_msn`, the
  one after the last stored before) with a discontinuity there and nowhere else, and no
  stored playlist version breaks RFC 8216 §6.2.2; the stored window crosses the join (the
  new stream read the store after the old one had stored its last playlist);
- new's playlist and segments appear in the store;
- not one named segment fails to fetch, for any camera;
- the status line shows one supabase entry per camera: a stream the camera closed is
  forgotten once done.

Then a reload changes the Supabase bucket and URL (storage that cannot change live): both
keys are named as needing a restart (WARN event=reload_needs_restart), no camera restarts,
and uploads go on into the first bucket only (the emulator has the other bucket too, so a
switch would show). Then `new` is removed and added back by two reloads: its stored
sequence goes on after one discontinuity, its window crossing the join. SIGTERM ends the
run with status 0 and no ERROR (nor, under ES_SANITIZE, a sanitizer report); no log or
output holds the key.
"""

import os
import re
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import storage_harness as sh  # noqa: E402

CAM_ARGS = ["--width", "320", "--height", "240", "--fps", "15", "--gop", "15",
            "--bitrate", "300"]
# At least a segment plus the playlist (1 s x (6 + 1)), as the config requires.
GRACE = 8.0
SETTINGS = {"transcode": "copy", "segment_duration": 1, "segments_to_keep": 5,
            "delete_grace": GRACE, "audio": "off"}
CHANGED = dict(SETTINGS, segments_to_keep=6)
BUCKET = "streams"
OTHER_BUCKET = "elsewhere"
PREFIX = "location_1/"


def msn_of(name):
    m = re.search(r"segment_(\d+)\.ts$", name)
    return int(m.group(1)) if m else None


class ReloadRemoteTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("reload-remote")
        cls.key = sh.new_key()
        cls.emu = sh.Emulator(cls.wd, cls.key, bucket=BUCKET)
        cls.root = os.path.join(cls.wd, "streams")
        cls.config = os.path.join(cls.wd, "cameras.yaml")
        cls.cams = {}
        cls.checkers = {}
        cls.daemon = None
        try:
            cls._run()
        except BaseException:
            cls.failed = True
            h.print_logs()
            cls._cleanup()
            raise

    @classmethod
    def write(cls, cameras, url=None, bucket=BUCKET):
        """The config; the daemon reads it only when told (SIGHUP, after this)."""
        sh.storage_config(cls.config, [h.camera(cid, cls.cams[cam].url, **settings)
                                       for cid, cam, settings in cameras], [
            {"backend": "local", "root": cls.root},
            {"backend": "supabase", "url": url or cls.emu.url, "bucket": bucket,
             "delete_interval_s": 1},
        ], origin={"listen": "127.0.0.1:0"})
        entry = ("config " + os.path.basename(cls.config), cls.config)
        while h.LOG_FILES.count(entry) > 1:
            h.LOG_FILES.remove(entry)

    @classmethod
    def _run(cls):
        for name in ("keep", "change", "gone"):
            cam = h.TestCam(cls.wd, label=f"testcam-{name}", path=f"/{name}", audio=False,
                            extra_args=CAM_ARGS)
            cam.start()
            cls.cams[name] = cam
        cls.emu.start()
        cls.emu.create_bucket(OTHER_BUCKET)
        # A slow uplink for the streams that go away: each segment upload of change, gone
        # and new takes 0.6 s, so at a reload their streams still have work queued (the
        # segment the stop flushes, the playlist naming it) while the new streams start.
        cls.emu.set_faults({"latency_ms": 600, "methods": ["POST", "PUT"],
                            "path_regex": r"/(change|gone|new)/segment_\d+\.ts$"})
        cls.write([("keep", "keep", SETTINGS), ("change", "change", SETTINGS),
                   ("gone", "gone", SETTINGS)])
        for name in ("keep", "change", "gone", "new"):
            base = cls.emu.public_url(f"{PREFIX}{name}/", BUCKET)
            c = sh.PlaylistChecker(base + "stream.m3u8", base, interval=0.2, refetch=False)
            c.start()
            cls.checkers[name] = c
        os.environ["SUPABASE_KEY"] = cls.key
        try:
            # With its status line (every 10 s, and 10 s after each reload): one line per
            # camera, with one entry per store it uploads to.
            cls.daemon = h.Daemon(cls.wd, ["--config", cls.config, "--all"])
            cls.daemon.start()
        finally:
            del os.environ["SUPABASE_KEY"]
        d, ck = cls.daemon, cls.checkers
        budget = h.scaled(20)

        def stored(name):
            pl = ck[name].latest()
            return pl.last_msn() if pl else -1

        for name in ("keep", "change", "gone"):
            h.wait_for(lambda n=name: len(ck[n].first_listed) >= 3 or not d.alive(), budget,
                       what=f"3 stored segments of {name} before the reload")
        if not d.alive():
            raise RuntimeError(f"edgestream exited with {d.returncode()}")
        cls.sessions_before = cls.cams["keep"].sessions()

        # ---- the reload: keep untouched, change changed, gone removed, new added ----
        cls.write([("keep", "keep", SETTINGS), ("change", "change", CHANGED),
                   ("new", "gone", SETTINGS)])
        cls.reload_line = len(d.log_lines())
        cls.reload_time = time.time()
        os.kill(d.pid, signal.SIGHUP)
        d.wait_log(r"event=reloaded ", budget, after_line=cls.reload_line)
        cls.change_stored_before = cls.checkers["change"].last_msn_at(cls.reload_time)
        keep_at_reload = stored("keep")
        h.wait_for(lambda: len(ck["new"].first_listed) >= 3, budget,
                   what="3 stored segments of the added camera")
        h.wait_for(lambda: stored("change") >= cls.change_stored_before + 3, budget,
                   what="3 new stored segments of the changed camera")
        h.wait_for(lambda: stored("keep") >= keep_at_reload + 4, budget,
                   what="4 more stored segments of the untouched camera")
        # gone's stream drains its queue; then the grace period (and a delete batch) passes
        # for what had left its window. Its stored playlist must name the local sink's last.
        with open(os.path.join(cls.root, "location_1", "gone", "stream.m3u8")) as f:
            cls.gone_local = h.parse_playlist(f.read())
        h.wait_for(lambda: stored("gone") >= cls.gone_local.last_msn(), budget,
                   what="gone's last local segment in its stored playlist")
        cls.gone_settled = time.time()
        time.sleep(GRACE + 2.0)
        cls.gone_final = cls._public_playlist("gone")
        cls.objects_after_reload = cls.emu.objects()

        # ---- a reload that changes storage that cannot change live ----
        cls.write([("keep", "keep", SETTINGS), ("change", "change", CHANGED),
                   ("new", "gone", SETTINGS)],
                  url=cls.emu.url.replace("127.0.0.1", "localhost"), bucket=OTHER_BUCKET)
        cls.storage_line = len(d.log_lines())
        cls.storage_time = time.time()
        os.kill(d.pid, signal.SIGHUP)
        d.wait_log(r"event=reloaded ", budget, after_line=cls.storage_line)
        cls.storage_reload_end = len(d.log_lines())
        keep_at_storage = stored("keep")
        new_at_storage = stored("new")
        h.wait_for(lambda: stored("keep") >= keep_at_storage + 3
                   and stored("new") >= new_at_storage + 3, budget,
                   what="3 more stored segments of keep and new after the storage reload")

        # ---- new leaves and comes back at once: its sequence goes on in the store ----
        for cams in ([("keep", "keep", SETTINGS), ("change", "change", CHANGED)],
                     [("keep", "keep", SETTINGS), ("change", "change", CHANGED),
                      ("new", "gone", SETTINGS)]):
            cls.write(cams)
            mark = len(d.log_lines())
            os.kill(d.pid, signal.SIGHUP)
            d.wait_log(r"event=reloaded ", budget, after_line=mark)
            if len(cams) == 2:
                cls.flap_line = mark
        new_at_back = stored("new")
        h.wait_for(lambda: stored("new") >= new_at_back + 3, budget,
                   what="3 more stored segments of new after it came back")
        cls.sessions_after = cls.cams["keep"].sessions()
        cls.gone_sessions = cls.cams["gone"].sessions()
        cls.rc = d.stop(signal.SIGTERM, timeout=h.scaled(20))
        time.sleep(0.5)
        for c in ck.values():
            c.stop()
        cls.stats = cls.emu.stats()
        cls.objects = cls.emu.objects()

    @classmethod
    def _public_playlist(cls, name):
        url = cls.emu.public_url(f"{PREFIX}{name}/stream.m3u8", BUCKET)
        with urllib.request.urlopen(url, timeout=10) as r:
            return h.parse_playlist(r.read().decode())

    @classmethod
    def _cleanup(cls):
        for c in cls.checkers.values():
            if c.is_alive():
                c.stop()
        if cls.daemon is not None:
            cls.daemon.stop()
        for cam in cls.cams.values():
            cam.stop()
        cls.emu.stop()

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()
        h.remove_workdir(cls.wd, cls.failed)

    # ---- helpers over what the checkers saw ----

    def stored_segments(self, name, since=None):
        """Every segment the public playlist of `name` named (by msn), in versions read at or
        after `since`."""
        seen = {}
        for v in list(self.checkers[name].versions):
            if since is not None and v.time < since:
                continue
            for s in v.playlist.segments:
                seen.setdefault(s.msn, s)
        return seen

    def reload_summary(self, start, end=None):
        lines = [l for l in self.daemon.log_lines()[start:end] if "event=reloaded " in l]
        self.assertEqual(len(lines), 1, lines)
        return h.parse_log_line(lines[0])[3]

    def assert_contiguous(self, name, seen):
        msns = sorted(seen)
        self.assertTrue(msns, f"{name}: nothing stored")
        self.assertEqual(msns, list(range(msns[0], msns[-1] + 1)),
                         f"a gap in {name}'s stored media sequence")

    # ---- the checks ----

    def test_untouched_camera_has_no_discontinuity_and_no_gap_in_the_store(self):
        seen = self.stored_segments("keep")
        self.assert_contiguous("keep", seen)
        self.assertEqual([m for m in sorted(seen) if seen[m].discontinuity], [],
                         "a discontinuity in the untouched camera's stored playlist")
        # It kept uploading through both reloads.
        at_reload = self.checkers["keep"].last_msn_at(self.reload_time)
        at_storage = self.checkers["keep"].last_msn_at(self.storage_time)
        self.assertGreaterEqual(at_storage - at_reload, 4)
        self.assertGreaterEqual(max(seen) - at_storage, 3)
        h.fail_if(self, self.checkers["keep"].update_problems(), "keep's playlist updates")
        # One RTSP session in all: the reloads never touched it.
        self.assertEqual(len(self.sessions_before), 1, self.sessions_before)
        self.assertEqual(self.sessions_after, self.sessions_before)

    def test_removed_camera_leaves_a_consistent_final_stored_playlist(self):
        final = self.gone_final
        self.assertGreaterEqual(len(final.segments), 3)
        self.assertEqual(final.last_msn(), self.gone_local.last_msn(),
                         "the removed camera's last segment never reached its stored playlist")
        held = {o["name"] for o in self.objects_after_reload if o["bucket"] == BUCKET}
        missing = [s.uri for s in final.segments if f"{PREFIX}gone/{s.uri}" not in held]
        self.assertEqual(missing, [], "the final stored playlist names missing objects")
        # It stays as it is to the end of the run: nothing deletes what it names.
        held_end = {o["name"] for o in self.objects if o["bucket"] == BUCKET}
        missing = [s.uri for s in final.segments if f"{PREFIX}gone/{s.uri}" not in held_end]
        self.assertEqual(missing, [], "objects the final stored playlist names were deleted")
        self.assertEqual(self.checkers["gone"].latest().text, final.text)
        late = [w["name"] for w in self.stats["write_log"]
                if w["time"] > self.gone_settled and f"/{PREFIX}gone/" in w["name"]]
        self.assertEqual(late, [], "writes for the removed camera after its stream drained")
        self.assertTrue(any("camera=gone event=reload_remove" in l
                            for l in self.daemon.log_lines()))

    def test_changed_camera_continues_its_stored_sequence_after_a_discontinuity(self):
        resumed = [h.parse_log_line(l)[3] for l in self.daemon.log_lines()[self.reload_line:]
                   if "camera=change event=resume " in l]
        self.assertEqual(len(resumed), 1, resumed)
        first_new = int(resumed[0]["next_msn"])
        self.assertIsNotNone(self.change_stored_before)
        self.assertGreater(first_new, self.change_stored_before)
        seen = self.stored_segments("change")
        self.assert_contiguous("change", seen)
        self.assertIn(first_new, seen, f"msn {first_new} never stored: {sorted(seen)}")
        self.assertTrue(seen[first_new].discontinuity,
                        f"stored msn {first_new} after the restart carries no discontinuity")
        self.assertEqual([m for m in seen if m != first_new and seen[m].discontinuity], [])
        # The stored window crosses the join: a player keeps the old segments to play on.
        joined = [v.playlist for v in self.checkers["change"].versions
                  if first_new in v.playlist.by_msn()]
        self.assertTrue(joined)
        self.assertLess(joined[0].media_sequence, first_new,
                        "the stored window started over at the restart:\n" + "\n".join(
                            f"{h.iso(v.time)} MEDIA-SEQUENCE {v.playlist.media_sequence} "
                            f"msns {sorted(v.playlist.by_msn())}"
                            for v in self.checkers["change"].versions))
        h.fail_if(self, self.checkers["change"].update_problems(), "change's playlist updates")
        self.assertTrue(any("camera=change event=reload_restart key=segments_to_keep" in l
                            for l in self.daemon.log_lines()))

    def test_added_camera_appears_in_the_store(self):
        seen = self.stored_segments("new")
        self.assertGreaterEqual(len(seen), 3)
        # Removed and added back: it goes on after a discontinuity, without a gap, and the
        # stored window crosses the join.
        self.assert_contiguous("new", seen)
        resumed = [h.parse_log_line(l)[3] for l in self.daemon.log_lines()[self.flap_line:]
                   if "camera=new event=resume " in l]
        self.assertEqual(len(resumed), 1, resumed)
        back = int(resumed[0]["next_msn"])
        self.assertEqual([m for m in sorted(seen) if seen[m].discontinuity], [back])
        joined = [v.playlist for v in self.checkers["new"].versions
                  if back in v.playlist.by_msn()]
        self.assertTrue(joined)
        self.assertLess(joined[0].media_sequence, back,
                        "the stored window started over when new came back")
        names = {o["name"] for o in self.objects if o["bucket"] == BUCKET}
        self.assertIn(f"{PREFIX}new/stream.m3u8", names)
        self.assertTrue([n for n in names if n.startswith(f"{PREFIX}new/segment_")], names)
        h.fail_if(self, self.checkers["new"].update_problems(), "new's playlist updates")
        # gone's test camera serves `new` now: one session for each.
        self.assertEqual([p for _, p in self.gone_sessions], ["/gone"] * 3)

    def test_every_named_segment_was_fetched(self):
        bad = []
        for name, c in self.checkers.items():
            bad += [f"{name}/{f.name}: {f.status} {f.error}" for f in c.segment_fetches()
                    if f.status != 200]
            bad += [f"{name}: {h.iso(t)} {w}" for t, w in c.playlist_errors]
        h.fail_if(self, bad, "stored playlists and segments")

    def test_the_first_reload_is_summarised(self):
        f = self.reload_summary(self.reload_line, self.storage_line)
        self.assertEqual((f["kept"], f["restarted"], f["added"], f["removed"],
                          f["needs_restart"]), ("1", "1", "1", "1", "0"), f)

    def test_storage_that_cannot_change_live_is_named_and_changes_nothing(self):
        lines = self.daemon.log_lines()[self.storage_line:self.storage_reload_end]
        named = sorted(h.parse_log_line(l)[3]["key"] for l in lines
                       if "event=reload_needs_restart" in l)
        self.assertEqual(named, ["storage.supabase.bucket", "storage.supabase.url"], lines)
        self.assertTrue(all(h.parse_log_line(l)[1] == "WARN" for l in lines
                            if "event=reload_needs_restart" in l))
        f = self.reload_summary(self.storage_line, self.storage_reload_end)
        self.assertEqual((f["kept"], f["restarted"], f["added"], f["removed"],
                          f["needs_restart"]), ("3", "0", "0", "0", "2"), f)
        after = self.daemon.log_lines()[self.storage_line:self.flap_line]
        self.assertEqual([l for l in after if "event=reload_start" in l
                          or "event=reload_remove" in l or "event=connected" in l
                          or "event=store " in l or "event=ready " in l], [])
        # Uploads went on, into the first bucket only.
        late = [w["name"] for w in self.stats["write_log"] if w["time"] > self.storage_time]
        self.assertTrue([n for n in late if n.startswith(f"{BUCKET}/{PREFIX}keep/segment_")])
        self.assertEqual([n for n in late if not n.startswith(BUCKET + "/")], [])
        self.assertEqual([o["name"] for o in self.objects if o["bucket"] == OTHER_BUCKET], [])

    def test_status_line_shows_each_running_stream_once(self):
        # A stream the camera closed (change's old one, gone's) is done once it has stored
        # its last playlist: the uploader forgets it, and the status line never shows it.
        with open(os.path.join(self.wd, "edgestream-run1.stdout"), errors="replace") as f:
            lines = [l for l in f.read().splitlines() if re.match(r"^\w+ \S+ in=", l)]
        after = [l for l in lines if l.startswith("new ")]
        self.assertTrue(after, "no status line after the first reload:\n" + "\n".join(lines))
        bad = [l for l in lines if len(re.findall(r" supabase \S+ last=", l)) != 1]
        h.fail_if(self, bad, "status lines without exactly one supabase entry")

    def test_no_name_is_written_twice_with_different_bytes(self):
        reused = [n for n in self.stats["names_written_with_different_bytes"]
                  if not n.endswith("stream.m3u8")]
        self.assertEqual(reused, [])

    def test_daemon_stops_cleanly_and_the_key_is_never_printed(self):
        self.assertEqual(self.rc, 0)
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer")
        self.assertEqual(self.daemon.error_lines(), [])
        self.assertEqual(sh.secrets_in_files(self.wd, [self.key]), [])


if __name__ == "__main__":
    h.run_tests()
