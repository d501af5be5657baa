"""The Debian package (debian/, `make package`): built the way `make package` builds it
(`debian/rules binary`), in a copy of the working tree so nothing is written into the
source tree, then read with dpkg-deb:

- it holds /usr/bin/edgestream, the web files in /usr/share/edgestream/web, the reference
  example as /etc/edgestream/cameras.yaml (a conffile), the systemd unit as shipped;
- it depends on the real library packages of every library the program links (found here
  with ldd and dpkg -S), on libavdevice (opened with dlopen) and on adduser;
- its postinst makes the system user edgestream and enables the service;
- the installed program carries neither the test-only fault hook nor a build path.

ES_DEB=path/to/edgestream_*.deb checks that package instead of building one (about two
minutes on two cores). In the sanitizer pass (ES_SANITIZE) the test is skipped: the package
is built without sanitizers either way, and the release pass runs it."""

import glob
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import unittest

import harness as h

DEBIAN = os.path.join(h.SOURCE_DIR, "debian")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw).stdout


def project_version():
    with open(os.path.join(h.SOURCE_DIR, "CMakeLists.txt")) as f:
        return re.search(r"project\(edgestream VERSION (\S+)", f.read()).group(1)


# Top-level names that are build output, never sources (a tree without .git, as
# `make fresh-check` unpacks it from `git archive`).
NOT_SOURCES = ("build", "obj-", "streams", "out", ".git", "edgestream_")


def tree_files():
    """The working tree's source files: what git tracks or would track, or, without git,
    every file outside build output and node_modules."""
    proc = subprocess.run(["git", "-C", h.SOURCE_DIR, "ls-files", "-z", "-co",
                           "--exclude-standard"], capture_output=True)
    if proc.returncode == 0:
        names = proc.stdout.decode().split("\0")
    else:
        names = []
        for top, dirs, files in os.walk(h.SOURCE_DIR):
            rel = os.path.relpath(top, h.SOURCE_DIR)
            dirs[:] = [d for d in dirs if d != "node_modules" and d != "__pycache__" and
                       not (rel == "." and d.startswith(NOT_SOURCES)) and
                       not (rel == "web" and d == "dist")]
            names += [os.path.normpath(os.path.join(rel, f)) for f in files
                      if not (rel == "." and f.startswith(NOT_SOURCES))]
    return [n for n in names if n and os.path.isfile(os.path.join(h.SOURCE_DIR, n))]


def build_deb(workdir):
    """A copy of the working tree (what git tracks or would track, plus web/dist), then
    `debian/rules binary` there; returns the .deb's path."""
    src = os.path.join(workdir, "src")
    os.mkdir(src)
    names = tree_files()
    with tarfile.open(os.path.join(workdir, "tree.tar"), "w") as tar:
        for n in names:
            tar.add(os.path.join(h.SOURCE_DIR, n), arcname=n)
        tar.add(os.path.join(h.SOURCE_DIR, "web", "dist"), arcname="web/dist")
    with tarfile.open(os.path.join(workdir, "tree.tar")) as tar:
        tar.extractall(src)
    out = os.path.join(workdir, "out")
    os.mkdir(out)
    env = dict(os.environ, ES_DEB_DIR=out, DEB_BUILD_OPTIONS="parallel=2")
    log = os.path.join(workdir, "build.log")
    h.LOG_FILES.append(("package build", log))
    with open(log, "w") as f:
        subprocess.run([h.require_tool("dpkg-checkbuilddeps")], cwd=src, check=True,
                       stdout=f, stderr=subprocess.STDOUT)
        subprocess.run(["nice", "-n", "10", "debian/rules", "binary"], cwd=src, env=env,
                       check=True, stdout=f, stderr=subprocess.STDOUT, timeout=900)
    debs = glob.glob(os.path.join(out, "edgestream_*.deb"))
    if len(debs) != 1:
        raise RuntimeError(f"expected one .deb in {out}, found {debs}")
    return debs[0]


class PackageTest(h.LiveTest):
    @classmethod
    def setUpClass(cls):
        if h.SANITIZE:
            raise unittest.SkipTest("the package is built without sanitizers; the release "
                                    "pass checks it")
        h.require_tool("dh")
        cls.dpkg_deb = h.require_tool("dpkg-deb")
        cls.wd = h.new_workdir("package")
        cls.deb = os.environ.get("ES_DEB") or build_deb(cls.wd)
        cls.contents = run([cls.dpkg_deb, "-c", cls.deb])
        cls.paths = {line.split()[-1] if " -> " not in line else line.split()[-3]
                     for line in cls.contents.splitlines()}
        cls.fields = {}
        for name in ("Package", "Version", "Architecture", "Depends", "Installed-Size"):
            cls.fields[name] = run([cls.dpkg_deb, "-f", cls.deb, name]).strip()
        cls.control = os.path.join(cls.wd, "control")
        run([cls.dpkg_deb, "-e", cls.deb, cls.control])
        cls.root = os.path.join(cls.wd, "root")
        run([cls.dpkg_deb, "-x", cls.deb, cls.root])

    @classmethod
    def tearDownClass(cls):
        h.remove_workdir(cls.wd, cls.failed)

    def test_file_name_is_name_version_arch(self):
        arch = run(["dpkg", "--print-architecture"]).strip()
        self.assertEqual(self.fields["Version"], project_version())
        self.assertEqual(os.path.basename(self.deb),
                         f"edgestream_{project_version()}_{arch}.deb")

    def test_it_installs_the_program_web_files_config_and_unit(self):
        for path in ["./usr/bin/edgestream", "./usr/share/edgestream/web/index.html",
                     "./usr/share/edgestream/web/player.html", "./etc/edgestream/cameras.yaml",
                     "./lib/systemd/system/edgestream.service",
                     "./usr/share/doc/edgestream/operations.md.gz"]:
            self.assertIn(path, self.paths)
        web = os.path.join(h.SOURCE_DIR, "web", "dist")
        for name in os.listdir(web):
            self.assertIn(f"./usr/share/edgestream/web/{name}" +
                          ("/" if os.path.isdir(os.path.join(web, name)) else ""), self.paths)
        with open(os.path.join(self.root, "etc/edgestream/cameras.yaml")) as f, \
                open(os.path.join(h.SOURCE_DIR, "cameras.example.yaml")) as g:
            self.assertEqual(f.read(), g.read())
        with open(os.path.join(self.root, "lib/systemd/system/edgestream.service")) as f, \
                open(os.path.join(DEBIAN, "edgestream.service")) as g:
            self.assertEqual(f.read(), g.read())

    def test_the_config_is_a_conffile(self):
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertIn("/etc/edgestream/cameras.yaml", f.read().split())

    def test_it_depends_on_the_real_library_packages(self):
        depends = {d.strip().split()[0] for d in re.split(r"[,|]", self.fields["Depends"])}
        program = os.path.join(self.root, "usr/bin/edgestream")
        libs = re.findall(r"=> (/\S+)", run(["ldd", program]))
        self.assertTrue(libs)
        wanted = set()
        for lib in libs:
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True,
                                   text=True)
            if owner.returncode != 0:   # /lib vs /usr/lib (merged /usr): try the other
                owner = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
            self.assertEqual(owner.returncode, 0, f"no package owns {lib}")
            wanted.add(owner.stdout.split(":")[0])
        # The ones edgestream itself names (not only what they pull in).
        for must in ("libavformat", "libavcodec", "libyaml", "libcurl", "libssl", "libsrtp2",
                     "libh2o-evloop", "zlib1g"):
            self.assertTrue(any(d.startswith(must) for d in depends),
                            f"{must}* missing from Depends: {self.fields['Depends']}")
        direct = {p for p in wanted if not p.startswith(("libc6", "libgcc", "libstdc++"))}
        missing = [p for p in direct if p not in depends]
        # Indirect libraries (pulled in by the direct ones) need not be named; every direct
        # DT_NEEDED library must be.
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                            run(["readelf", "-d", program]))
        for soname in needed:
            path = next((l for l in libs if os.path.basename(l) == soname), None)
            if path is None or soname.startswith(("libc.so", "libm.so", "ld-linux")):
                continue
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if owner.returncode != 0:
                owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)],
                                       capture_output=True, text=True)
            pkg = owner.stdout.split(":")[0]
            self.assertIn(pkg, depends, f"{soname} ({pkg}) not in Depends ({missing})")
        major = run(["pkg-config", "--modversion", "libavdevice"]).split(".")[0]
        self.assertIn(f"libavdevice{major}", depends, "dlopen()ed libavdevice not in Depends")
        self.assertIn("adduser", depends)

    def test_postinst_makes_the_system_user_and_enables_the_service(self):
        with open(os.path.join(self.control, "postinst")) as f:
            text = f.read()
        self.assertRegex(text, r"adduser --system --group [^\n]*\\\n[^\n]* edgestream\n")
        self.assertIn("deb-systemd-helper", text)
        self.assertIn("edgestream.service", text)

    def test_the_installed_program_has_no_test_hook_and_no_build_path(self):
        with open(os.path.join(self.root, "usr/bin/edgestream"), "rb") as f:
            blob = f.read()
        self.assertNotIn(b"ES_TEST_STALL", blob)
        self.assertNotIn(h.SOURCE_DIR.encode(), blob)
        self.assertNotIn(self.wd.encode(), blob)
        self.assertIn(b"/usr/share/edgestream", blob)

    def test_installed_size_is_reported(self):
        size = int(self.fields["Installed-Size"])
        print(f"Installed-Size: {size} KiB ({self.deb})")
        self.assertGreater(size, 100)


if __name__ == "__main__":
    h.run_tests()
