"""Retention under a tiny budget (docs/recording.md): with record_max_gb at 2.5 MB the
newest recordings are kept and the oldest deleted, the disk never holds more than the
budget plus one segment, the index and the files agree, and the kept range still plays
(VOD playlist names only kept files; ffprobe on what it names) while deletion goes on.
The origin has a token here: /vod/ asks for it like /live/, and a playlist fetched with
?token= carries it on its URIs. Real daemon and test camera."""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import record_harness as rh  # noqa: E402

CAM = "cam1"
BUDGET = 2_500_000  # bytes: record_max_gb 0.0025
TOKEN = "s3cret/+token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def msn_of(name):
    return rh.parse_name(name)[2]


class RecordRetention(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("record-retention")
        cls.cam = h.TestCam(cls.wd)
        cls.cam.start()
        cls.root = os.path.join(cls.wd, "recordings")
        cls.cam_dir = os.path.join(cls.root, CAM)
        config = rh.write_config(os.path.join(cls.wd, "cameras.yaml"), cls.cam.url, cls.root,
                                 token=TOKEN, record_max_gb=BUDGET / 1e9)
        cls.t0 = time.time()
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)

    def test_budget_keeps_the_newest_and_playback_works(self):
        largest = 0
        lowest_kept = []
        # At least 40 s (not scaled: the camera runs in real time under the sanitizers
        # too), and on until retention has deleted a few (a loaded box may make the camera
        # slower than real time), within a bound.
        started = time.monotonic()
        samples = 0
        seen = set()
        while time.monotonic() - started < 40 or (
                (not lowest_kept or lowest_kept[-1] <= 5)
                and time.monotonic() - started < h.scaled(150)):
            files = rh.files_on_disk(self.cam_dir)
            if files:
                largest = max(largest, max(files.values()))
                total = sum(files.values())
                self.assertLessEqual(total, BUDGET + largest,
                                     f"{total} bytes kept over a {BUDGET} budget")
                lowest_kept.append(min(map(msn_of, files)))
                seen |= set(files)
                samples += 1
            time.sleep(0.5)
        self.assertGreater(samples, 30)
        self.assertGreater(lowest_kept[-1], 5, "nothing was deleted")
        self.assertEqual(lowest_kept, sorted(lowest_kept), "an older segment came back")

        # Playback of the kept range while retention goes on.
        self.assertEqual(rh.get(rh.vod_url(self.base, CAM, self.t0 - 5, time.time() + 5))[0],
                         401)
        before = rh.files_on_disk(self.cam_dir)
        status, _, body = rh.get(rh.vod_url(self.base, CAM, self.t0 - 5, time.time() + 5,
                                            token=TOKEN))
        after = rh.files_on_disk(self.cam_dir)
        self.assertEqual(status, 200, body[:300])
        playlist = rh.parse_vod(body.decode())
        for s in playlist.segments:  # ?token= players cannot add it themselves
            self.assertTrue(s.uri.endswith("?token=s3cret%2F%2Btoken"), s.uri)
            s.uri = s.uri.split("?")[0]
        oldest_before = min(map(msn_of, before))
        self.assertGreater(len(playlist.segments), 3)
        for s in playlist.segments:
            self.assertGreaterEqual(msn_of(s.uri), oldest_before,
                                    f"{s.uri} was deleted before the playlist was asked for")
            self.assertTrue(s.uri in before or s.uri in after, s.uri)
        # The newest ones (far from deletion) are served and decode.
        paths = []
        for s in playlist.segments[-4:]:
            self.assertEqual(rh.get(f"{self.base}vod/{CAM}/{s.uri}")[0], 401)
            status, headers, data = rh.get(
                f"{self.base}vod/{CAM}/{s.uri}?token=s3cret%2F%2Btoken")
            self.assertEqual(status, 200, s.uri)
            self.assertTrue(headers.get("cache-control", "").startswith("private"))
            path = os.path.join(self.wd, "copy-" + s.uri)
            with open(path, "wb") as f:
                f.write(data)
            paths.append(path)
        for path, info in rh.probe_many(paths).items():
            self.assertEqual(info["first_key"], 1, path)
            self.assertGreater(info["frames"], 0, path)
        # A segment retention removed is gone from the origin too.
        gone = sorted(seen - set(after), key=msn_of)
        self.assertTrue(gone)
        self.assertEqual(rh.get(f"{self.base}vod/{CAM}/{gone[-1]}", AUTH)[0], 404)

        # The figures say so.
        _, _, body = rh.get(f"{self.base}api/cameras", AUTH)
        rec = json.loads(body)["cameras"][0]["recording"]
        self.assertLessEqual(rec["bytes"], BUDGET + largest)
        self.assertEqual(rec["state"], "recording")
        _, _, body = rh.get(f"{self.base}metrics", AUTH)
        m = re.search(rf'(?m)^edgestream_record_deleted_total{{camera="{CAM}"}} (\d+)$',
                      body.decode())
        self.assertIsNotNone(m)
        self.assertGreaterEqual(int(m.group(1)), lowest_kept[-1] - 1)

        # Stopped cleanly, index and files are the same set; empty hour directories went.
        self.assertEqual(self.daemon.stop(), 0)
        files = rh.files_on_disk(self.cam_dir)
        self.assertEqual(rh.index_rows(self.cam_dir), files)
        for root, dirs, names in os.walk(self.cam_dir):
            if root != self.cam_dir:
                self.assertTrue(dirs or names, f"empty directory {root} left behind")
        self.assertEqual(self.daemon.error_lines(), [])
        self.assertEqual(self.daemon.sanitizer_reports(), [])


if __name__ == "__main__":
    h.run_tests()
