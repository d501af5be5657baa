#!/usr/bin/env python3
"""`edgestream --config FILE --check` over the config corpus (tests/configs/).

Every bad config must exit with status 2 and print `edgestream: FILE:LINE:COL: ...` on
stderr (exactly the LINE:COL, key and message part its `# expect:` first line names, when
it has one); every good config must exit 0 with `config ok: N cameras (M enabled)`.
Nothing may trip a sanitizer, and no password from the corpus may be printed.

Run by CTest with ES_BINARY set to the edgestream binary. Without it the tests fail:
a config check that cannot run has not passed.
"""
import os
import re
import subprocess
import sys
import unittest
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
CONFIGS = TESTS_DIR / "configs"
SOURCE_DIR = Path(os.environ.get("ES_SOURCE_DIR", TESTS_DIR.parent))
SECRETS = ("hunter2",)
EXIT_CONFIG = 2

# Camera counts of some good configs: (cameras, enabled).
KNOWN_COUNTS = {
    "reference_cameras.yaml": (1, 1),
    "mapping_form.yaml": (2, 1),
    "all_source_kinds.yaml": (7, 7),
    "profiles.yaml": (5, 5),
}

EXPECT = re.compile(rb"^# expect: (\d+):(\d+) (\S+) (.*)$")


def binary():
    path = os.environ.get("ES_BINARY")
    if not path:
        raise AssertionError("ES_BINARY is not set: point it at the edgestream binary")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"ES_BINARY={path} does not exist or is not executable")
    return os.path.abspath(path)


def check(config, cwd=None):
    return subprocess.run(
        [binary(), "--config", str(config), "--check"],
        capture_output=True,
        timeout=60,
        cwd=cwd,
    )


class ConfigCliTest(unittest.TestCase):
    def assert_clean(self, result, name):
        out = result.stdout.decode("utf-8", "replace")
        err = result.stderr.decode("utf-8", "replace")
        for bad in ("Sanitizer", "runtime error", "Segmentation fault"):
            self.assertNotIn(bad, err, f"{name}: {bad} in stderr:\n{err}")
        for secret in SECRETS:
            self.assertNotIn(secret, out + err, f"{name}: a password was printed")
        return out, err

    def test_binary_is_given(self):
        binary()

    def test_every_bad_config_exits_2_with_file_line_column(self):
        binary()
        files = sorted((CONFIGS / "bad").glob("*.yaml"))
        self.assertGreaterEqual(len(files), 25)
        for path in files:
            with self.subTest(config=path.name):
                result = check(path)
                out, err = self.assert_clean(result, path.name)
                self.assertEqual(
                    result.returncode, EXIT_CONFIG, f"{path.name}: exit {result.returncode}\n{err}"
                )
                self.assertEqual(out, "", f"{path.name}: nothing belongs on stdout")
                where = re.search(
                    rf"^edgestream: {re.escape(str(path))}:(\d+):(\d+): (.*)$", err, re.M
                )
                self.assertIsNotNone(where, f"{path.name}: no FILE:LINE:COL: line in\n{err}")
                self.assertGreater(int(where.group(1)), 0)
                self.assertGreater(int(where.group(2)), 0)

                first_line = path.read_bytes().split(b"\n", 1)[0]
                expect = EXPECT.match(first_line)
                if not expect:
                    continue
                line, column, key, part = expect.groups()
                self.assertEqual(
                    (where.group(1), where.group(2)),
                    (line.decode(), column.decode()),
                    f"{path.name}: {err}",
                )
                rest = where.group(3)
                if key != b"-":
                    self.assertTrue(rest.startswith(key.decode() + ": "), f"{path.name}: {err}")
                self.assertIn(part.decode(), rest, f"{path.name}: {err}")

    def test_every_good_config_exits_0_with_a_summary(self):
        binary()
        files = sorted((CONFIGS / "good").glob("*.yaml"))
        files.append(SOURCE_DIR / "cameras.example.yaml")
        self.assertGreaterEqual(len(files), 6)
        for path in files:
            with self.subTest(config=path.name):
                result = check(path)
                out, err = self.assert_clean(result, path.name)
                self.assertEqual(result.returncode, 0, f"{path.name}: {err}")
                summary = re.search(r"^config ok: (\d+) cameras \((\d+) enabled\)$", out, re.M)
                self.assertIsNotNone(summary, f"{path.name}: stdout was {out!r}")
                if path.name in KNOWN_COUNTS:
                    counts = (int(summary.group(1)), int(summary.group(2)))
                    self.assertEqual(counts, KNOWN_COUNTS[path.name], path.name)

    def test_a_relative_path_is_reported_as_given(self):
        result = check("bad/target_fps_zero.yaml", cwd=CONFIGS)
        _, err = self.assert_clean(result, "relative")
        self.assertEqual(result.returncode, EXIT_CONFIG)
        self.assertIn(
            "edgestream: bad/target_fps_zero.yaml:5:17: [0].settings.target_fps: "
            "must be from 1 to 120, got 0",
            err,
        )

    def test_an_unreadable_config_exits_2_naming_the_file_and_reason(self):
        missing = CONFIGS / "no-such-file.yaml"
        result = check(missing)
        _, err = self.assert_clean(result, "missing")
        self.assertEqual(result.returncode, EXIT_CONFIG)
        self.assertIn(
            f"edgestream: {missing}: cannot read the config: No such file or directory", err
        )

        result = check(CONFIGS)
        _, err = self.assert_clean(result, "directory")
        self.assertEqual(result.returncode, EXIT_CONFIG)
        self.assertIn(f"edgestream: {CONFIGS}: cannot read the config:", err)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
