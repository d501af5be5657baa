"""Recording survives crashes (docs/recording.md): SIGKILL mid-segment leaves no index row
without its file; what a crash or power cut can leave behind (a half-written temporary
file, complete segments whose rows were lost at either end) is found at the next start, so
index and files agree again; an unreadable index and a missing one are rebuilt from the
files. Real daemon, test camera, SQLite read by Python's sqlite3, ffprobe."""

import glob
import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import record_harness as rh  # noqa: E402

CAM = "cam1"


def msn_of(name):
    return rh.parse_name(name)[2]


class RecordCrash(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("record-crash")
        cls.cam = h.TestCam(cls.wd)
        cls.cam.start()
        cls.root = os.path.join(cls.wd, "recordings")
        cls.cam_dir = os.path.join(cls.root, CAM)
        # Recording on for every camera through `defaults:` (the other tests set it per
        # camera).
        cls.config = rh.write_config(os.path.join(cls.wd, "cameras.yaml"), cls.cam.url, cls.root,
                                     via_defaults=True)
        cls.daemon, cls.base = oh.start_daemon(cls.wd, cls.config)

    def wait_segments(self, more_than):
        return h.wait_for(lambda: len(rh.files_on_disk(self.cam_dir)) > more_than,
                          h.scaled(30), interval=0.05, what=f"more than {more_than} recordings")

    def restart(self):
        after = len(self.daemon.all_log_lines())
        self.daemon.start()
        self.base = oh.origin_base(self.daemon)
        _, line, _ = self.daemon.wait_log(r"record camera=cam1 event=index_ready", h.scaled(15))
        return h.parse_log_line(line)[3]

    def stop_and_compare(self):
        """Stops the daemon cleanly; index rows and files must then be the same set."""
        self.assertEqual(self.daemon.stop(), 0)
        files = rh.files_on_disk(self.cam_dir)
        self.assertEqual(rh.index_rows(self.cam_dir), files)
        self.assertEqual(rh.temp_files(self.cam_dir), [])
        return files

    def test_crash_then_reconcile_then_rebuild(self):
        # 1. SIGKILL in the middle of a segment (1 s segments: 0.5 s after one closed).
        self.wait_segments(5)
        n = len(rh.files_on_disk(self.cam_dir))
        self.wait_segments(n)
        time.sleep(0.5)
        self.daemon.stop(sig=signal.SIGKILL)
        files = rh.files_on_disk(self.cam_dir)
        rows = rh.index_rows(self.cam_dir)
        dangling = set(rows) - set(files)
        self.assertEqual(dangling, set(), "index rows without their file after SIGKILL")
        for name, size in rows.items():
            self.assertEqual(files[name], size, name)
        self.assertLessEqual(len(set(files) - set(rows)), 1,
                             "more than the one segment in flight is unindexed")

        # 2. What a power cut can leave on top: a half-written temporary file, the newest
        # row lost (rename done, commit lost), the oldest row gone but its file not yet
        # deleted (retention cut short).
        names = sorted(files, key=msn_of)
        newest, oldest = names[-1], names[0]
        hour_dir = os.path.dirname(os.path.join(self.cam_dir, rh.rel_path(newest)))
        start, _, msn, _ = rh.parse_name(newest)
        partial = os.path.join(hour_dir, "." + newest.replace(f"_{msn}", f"_{msn + 1}") + ".tmp")
        with open(partial, "wb") as f:
            f.write(b"\x47" + b"\x00" * 1000)
        db = sqlite3.connect(os.path.join(self.cam_dir, "index.db"))
        db.execute("DELETE FROM segments WHERE msn IN (?, ?)", (msn_of(newest), msn_of(oldest)))
        db.commit()
        db.close()
        self.assertNotIn(newest, rh.index_rows(self.cam_dir))

        fields = self.restart()
        self.assertEqual(fields["how"], "reconcile")
        self.assertGreaterEqual(int(fields["added"]), 2)
        self.assertFalse(os.path.exists(partial), "the half-written file was left")
        n = len(rh.files_on_disk(self.cam_dir))
        self.wait_segments(n + 2)
        files = self.stop_and_compare()
        self.assertIn(newest, files)
        self.assertIn(oldest, files)
        # The media sequence went on after the highest recorded msn: no name reused.
        after = [m for m in map(msn_of, files) if m > msn_of(newest)]
        self.assertTrue(after)

        # 3. An unreadable index is moved aside and rebuilt from the files.
        index = os.path.join(self.cam_dir, "index.db")
        with open(index, "r+b") as f:
            f.write(b"this is not a SQLite database" * 100)
        fields = self.restart()
        self.assertEqual(fields["how"], "rebuild")
        self.assertGreaterEqual(int(fields["added"]), len(files))
        self.assertTrue(glob.glob(index + ".unreadable-*"), "the bad index was not kept aside")
        self.wait_segments(len(files) + 1)
        files = self.stop_and_compare()

        # 4. A missing index is rebuilt too.
        for p in glob.glob(index + "*"):
            os.unlink(p)
        fields = self.restart()
        self.assertEqual(fields["how"], "rebuild")
        self.assertEqual(int(fields["added"]), len(files))
        self.wait_segments(len(files) + 1)

        # 5. The VOD playlist of everything names only files that exist, and they play.
        status, _, body = rh.get(rh.vod_url(self.base, CAM, time.time() - 600, time.time() + 5))
        self.assertEqual(status, 200, body[:300])
        playlist = rh.parse_vod(body.decode())
        on_disk = rh.files_on_disk(self.cam_dir)
        for s in playlist.segments:
            self.assertIn(s.uri, on_disk)
        breaks = sum(1 for s in playlist.segments if s.discontinuity)
        self.assertGreaterEqual(breaks, 3, "three restarts, each a discontinuity")
        probes = rh.probe_many([os.path.join(self.cam_dir, rh.rel_path(s.uri))
                                for s in playlist.segments])
        for path, info in probes.items():  # the newest before the kill among them
            self.assertGreater(info["frames"], 0, path)
            self.assertEqual(info["first_key"], 1, path)
        self.stop_and_compare()
        self.assertEqual(self.daemon.sanitizer_reports(), [])


if __name__ == "__main__":
    h.run_tests()
