#!/usr/bin/env python3
"""Every package the suite uses is declared in scripts/deps.sh.

A package installed by hand (or shipped with this machine's image) hides a missing line in
deps.sh: the suite passes here and fails on a fresh machine. This test looks at what the
suite really uses and asks dpkg who owns it:
  - each GStreamer element es-testcam builds its camera from (es-testcam --list-elements);
  - each program in scripts/tools.list (found as scripts/need-tool finds it);
  - each shared library the edgestream binary links.
The owning package must be named in deps.sh, or be pulled in by one named there
(apt-cache depends --recurse --no-recommends on the declared set). A used package outside
that set fails the test with its name. `make fresh-check` is the slow, whole proof; this is
the cheap half that CI runs every time.

It also proves that the check and the fail-fast paths work: with gstreamer1.0-x left out of
the declared list the check names it, and es-testcam with textoverlay hidden exits at once
naming the element and the package.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SCRIPTS = os.path.join(h.SOURCE_DIR, "scripts")
DEPS_SH = os.path.join(SCRIPTS, "deps.sh")
TOOLS_LIST = os.path.join(SCRIPTS, "tools.list")
NEED_TOOL = os.path.join(SCRIPTS, "need-tool")


def declared_packages():
    out = subprocess.run(["bash", DEPS_SH, "--list"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def dependency_closure(packages):
    """The packages `packages` pull in through Depends and Pre-Depends, themselves included.
    Virtual packages come back as their providers' real names only where apt lists them."""
    proc = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *packages],
        capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"apt-cache depends failed (run apt-get update?): {proc.stderr.strip()}")
    closure = set()
    for line in proc.stdout.splitlines():
        if line and not line[0].isspace():
            closure.add(line.strip().strip("<>").split(":")[0])
    return closure


def owner(path):
    """The package that installed `path` (symlinks resolved), or None. Debian 12 merges
    /lib into /usr/lib, and dpkg knows a file by the name its package shipped it under:
    both spellings are asked."""
    real = os.path.realpath(path)
    candidates = [real]
    if real.startswith("/usr/"):
        candidates.append(real[len("/usr"):])
    else:
        candidates.append("/usr" + real)
    for p in candidates:
        proc = subprocess.run(["dpkg-query", "-S", p], capture_output=True, text=True,
                              timeout=30)
        if proc.returncode != 0:
            continue
        for line in proc.stdout.splitlines():
            if line.startswith("diversion "):
                continue
            return line.split(":")[0].split(",")[0].strip()
    return None


def undeclared(used, closure):
    """[(what, package)] for every used thing whose owner is outside the closure."""
    return sorted((what, pkg) for what, pkg in used.items() if pkg not in closure)


def testcam_env(**extra):
    # GStreamer keeps a few allocations for the life of the process; in the sanitizer
    # build LeakSanitizer would report them at exit and replace the exit status we test.
    return dict(os.environ, ASAN_OPTIONS="detect_leaks=0", **extra)


def testcam_elements():
    """[(element, package es-testcam names, plugin file or None)]"""
    out = subprocess.run([h.testcam_binary(), "--list-elements"], capture_output=True,
                         text=True, check=True, timeout=60, env=testcam_env()).stdout
    rows = []
    for line in out.splitlines():
        name, package, file = line.split("\t")
        rows.append((name, package, None if file == "-" else file))
    return rows


def tools():
    """[(program, package)] from scripts/tools.list."""
    rows = []
    with open(TOOLS_LIST) as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if fields:
                rows.append((fields[0], fields[1]))
    return rows


# Node.js where Debian's is too old: scripts/deps.sh installs the npm registry's
# node-linux-<arch> package into /usr/local. No dpkg package owns it; deps.sh does.
NODE_FROM_NPM = "/usr/local/lib/node_modules/node-linux-"


class DepsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.declared = declared_packages()
        cls.closure = dependency_closure(cls.declared)

    def test_every_testcam_element_is_found_and_its_package_declared(self):
        used, problems = {}, []
        rows = testcam_elements()
        aac = [r for r in rows if r[0] in ("avenc_aac", "voaacenc")]
        for name, package, file in rows:
            if file is None:
                # Only the first AAC encoder is required: the others are alternatives.
                if (name, package, file) not in aac[1:]:
                    problems.append(f"element {name} not found (package {package})")
                continue
            pkg = owner(file)
            if pkg is None:
                problems.append(f"element {name}: no package owns {file}")
                continue
            if pkg != package:
                problems.append(f"element {name}: es-testcam names {package}, dpkg says {pkg}")
            used[f"element {name}"] = pkg
        problems += [f"{what}: package {pkg} is not declared in scripts/deps.sh"
                     for what, pkg in undeclared(used, self.closure)]
        h.fail_if(self, problems, "undeclared GStreamer elements")

    def test_every_program_the_suite_runs_is_declared(self):
        used, problems = {}, []
        for program, package in tools():
            if package not in self.closure:
                problems.append(f"tools.list names {package} for {program}: not declared")
            try:
                path = h.require_tool(program)
            except RuntimeError as e:
                problems.append(str(e))
                continue
            if program in ("node", "npm") and os.path.realpath(path).startswith(NODE_FROM_NPM):
                continue
            pkg = owner(path)
            if pkg is None:
                # A copy outside dpkg earlier on PATH (this image's pyenv python3, say):
                # a fresh machine runs Debian's, which must then be declared.
                path = os.path.join("/usr/bin", program)
                pkg = owner(path) if os.access(path, os.X_OK) else None
            if pkg is None:
                problems.append(f"{program}: no package owns it (installed by hand?)")
                continue
            used[f"program {program} ({path})"] = pkg
        problems += [f"{what}: package {pkg} is not declared in scripts/deps.sh"
                     for what, pkg in undeclared(used, self.closure)]
        h.fail_if(self, problems, "undeclared programs")

    def test_every_library_edgestream_links_is_declared(self):
        out = subprocess.run(["ldd", h.edgestream_binary()], capture_output=True, text=True,
                             check=True, timeout=30).stdout
        used, problems = {}, []
        for line in out.splitlines():
            parts = line.split("=>")
            if len(parts) != 2 or not parts[1].strip().startswith("/"):
                continue  # linux-vdso, the dynamic loader
            path = parts[1].split("(")[0].strip()
            pkg = owner(path)
            if pkg is None:
                problems.append(f"{path}: no package owns it")
            else:
                used[f"library {os.path.basename(path)}"] = pkg
        self.assertGreater(len(used), 10, "ldd listed too few libraries to judge")
        problems += [f"{what}: package {pkg} is not declared in scripts/deps.sh"
                     for what, pkg in undeclared(used, self.closure)]
        h.fail_if(self, problems, "undeclared libraries")

    def test_the_check_names_gstreamer1_0_x_when_deps_sh_lacks_it(self):
        # The fixture: deps.sh's own list without the package the first fresh machine lacked.
        reduced = [p for p in self.declared if p != "gstreamer1.0-x"]
        self.assertEqual(len(reduced), len(self.declared) - 1)
        used = {f"element {name}": owner(file)
                for name, _, file in testcam_elements() if name == "textoverlay"}
        self.assertEqual(undeclared(used, dependency_closure(reduced)),
                         [("element textoverlay", "gstreamer1.0-x")])
        self.assertEqual(undeclared(used, self.closure), [])

    def test_testcam_without_textoverlay_exits_at_once_naming_the_package(self):
        # GStreamer's plugin folder with everything but the pango plugin (textoverlay).
        plugin_dir = os.path.dirname(
            next(f for n, _, f in testcam_elements() if n == "textoverlay"))
        with tempfile.TemporaryDirectory(prefix="es-gst-") as tmp:
            plugins = os.path.join(tmp, "plugins")
            os.mkdir(plugins)
            for name in os.listdir(plugin_dir):
                if name != "libgstpango.so":
                    os.symlink(os.path.join(plugin_dir, name), os.path.join(plugins, name))
            env = testcam_env(GST_PLUGIN_SYSTEM_PATH_1_0=plugins,
                              GST_REGISTRY_1_0=os.path.join(tmp, "registry.bin"))
            env.pop("GST_PLUGIN_PATH", None)
            env.pop("GST_PLUGIN_PATH_1_0", None)
            start = time.monotonic()
            proc = subprocess.run([h.testcam_binary(), "--port", "0"], env=env,
                                  capture_output=True, text=True, timeout=h.scaled(30))
            elapsed = time.monotonic() - start
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("textoverlay", proc.stderr)
        self.assertIn("gstreamer1.0-x", proc.stderr)
        self.assertNotIn("ready", proc.stdout)
        self.assertLess(elapsed, h.scaled(2.0), f"took {elapsed:.2f} s")

    def test_need_tool_names_the_package_of_a_missing_program(self):
        # A PATH with only what need-tool itself runs: ffprobe is then missing.
        with tempfile.TemporaryDirectory(prefix="es-path-") as tmp:
            for prog in ("awk", "ls", "sort", "head", "dirname"):
                os.symlink(shutil.which(prog), os.path.join(tmp, prog))
            proc = subprocess.run(["/bin/bash", NEED_TOOL, "ffprobe"], capture_output=True,
                                  text=True, env={"PATH": tmp}, timeout=30)
        self.assertEqual(proc.returncode, 127, proc.stderr)
        self.assertIn("'ffprobe' not found", proc.stderr)
        self.assertIn("Debian package ffmpeg", proc.stderr)


if __name__ == "__main__":
    h.run_tests()
