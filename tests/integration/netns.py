"""A private network namespace with a real packet filter, for the WebRTC tests that must
see a port blocked (a network that drops UDP, or all media ports).

A test module calls enter() first thing: it re-executes the test in a new network
namespace (`unshare --net`; the tests run as root) with its own loopback up, so the
daemon, the test camera and Chromium all run there, and nothing it blocks touches the
rest of the machine. block() then installs nftables rules that drop packets to given
ports on that loopback, with counters; dropped() reads how many each rule dropped, so a
test can show that the browser really tried the blocked path. The daemon knows nothing
of it: the kernel drops the packets.
"""

import json
import os
import subprocess
import sys

import harness as h

_MARK = "ES_TEST_NETNS"
TABLE = "es_test_block"


def enter():
    """Re-executes this test in a fresh network namespace (no return) unless already in one
    made here; then brings loopback up there."""
    if os.environ.get(_MARK) != "1":
        unshare = h.require_tool("unshare")
        h.require_tool("nft")  # fail before the daemon starts, naming the package
        env = dict(os.environ, **{_MARK: "1"})
        sys.stdout.flush()
        sys.stderr.flush()
        # unshare --net execs the command in place (same PID), so CTest's signals reach it.
        os.execve(unshare, [unshare, "--net", "--", sys.executable, *sys.argv], env)
    ip = h.require_tool("ip")
    # Chromium treats a host with loopback alone as offline (navigator.onLine false) and
    # gathers no ICE candidates at all; a veth pair with a default route makes it online.
    # Nothing answers on it: the daemon and the browser still meet on 127.0.0.1.
    for cmd in (["link", "set", "lo", "up"],
                ["link", "add", "es0", "type", "veth", "peer", "name", "es1"],
                ["addr", "add", "10.253.0.1/24", "dev", "es0"],
                ["link", "set", "es0", "up"], ["link", "set", "es1", "up"],
                ["route", "add", "default", "dev", "es0"]):
        subprocess.run([ip, *cmd], check=True, timeout=10)


def block(udp=(), tcp=()):
    """Drops (on input, so the sender sees nothing) UDP and TCP packets to these ports, each
    rule with a counter. Replaces an earlier block()."""
    unblock()
    rules = [f"add table inet {TABLE}",
             f"add chain inet {TABLE} input {{ type filter hook input priority 0; policy accept; }}"]
    for port in udp:
        rules.append(f"add rule inet {TABLE} input udp dport {int(port)} counter drop")
    for port in tcp:
        rules.append(f"add rule inet {TABLE} input tcp dport {int(port)} counter drop")
    subprocess.run([h.require_tool("nft"), "-f", "-"], input="\n".join(rules) + "\n", text=True,
                   check=True, timeout=10)


def unblock():
    subprocess.run([h.require_tool("nft"), "delete", "table", "inet", TABLE],
                   capture_output=True, timeout=10)


def dropped():
    """{('udp'|'tcp', port): packets dropped so far} of the rules block() installed."""
    proc = subprocess.run([h.require_tool("nft"), "-j", "list", "table", "inet", TABLE],
                          capture_output=True, text=True, timeout=10)
    out = {}
    if proc.returncode != 0:
        return out
    for item in json.loads(proc.stdout).get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        proto = port = packets = None
        for expr in rule.get("expr", []):
            match = expr.get("match")
            if match and isinstance(match.get("left"), dict) and "payload" in match["left"]:
                proto = match["left"]["payload"].get("protocol")
                port = match.get("right")
            if "counter" in expr:
                packets = expr["counter"].get("packets")
        if proto and port is not None:
            out[(proto, int(port))] = packets or 0
    return out
