#!/usr/bin/env python3
"""A weak network between Jemput clients and a server, on one machine (needs root).

Three network namespaces joined by two veth pairs on one subnet:

    jwc (clients, 10.231.0.1) ──veth── jww (wire) ──veth── jws (server, 10.231.0.2)

The kernel here has no netem, so the link is built from what it has:
- rate: tc TBF on the wire's two egress interfaces;
- loss: nftables `numgen random` drops on input in the client and server namespaces,
  so TCP really retransmits;
- latency: this script's forwarder in the wire namespace, an AF_PACKET socket per veth
  that holds every frame for the one-way delay before sending it on (a frame
  forwarder, not a TCP relay: the connection stays end to end, loss costs a real RTT);
- a cut link: SIGUSR1 to the forwarder drops every frame, SIGUSR2 restores.

Usage: weaknet.py [--id ID] up PROFILE | down | cut | restore

`--id` (default 0) suffixes every namespace and interface name, so several harnesses
(a developer's run and a CI run on one machine) never touch each other's link.
"""

import heapq
import os
import select
import signal
import socket
import subprocess
import sys
import time

NS_C = NS_W = NS_S = IF_C = IF_WC = IF_WS = IF_S = PIDFILE = ""
CLIENT_IP, SERVER_IP = "10.231.0.1", "10.231.0.2"


def names(ident):
    """Namespace and interface names for harness `ident` (interface names ≤ 15 bytes)."""
    global NS_C, NS_W, NS_S, IF_C, IF_WC, IF_WS, IF_S, PIDFILE
    NS_C, NS_W, NS_S = f"jwc{ident}", f"jww{ident}", f"jws{ident}"
    IF_C, IF_WC, IF_WS, IF_S = f"jc{ident}", f"jwc{ident}", f"jws{ident}", f"js{ident}"
    PIDFILE = f"/run/jemput-weaknet-{ident}.pid"

# name: (rate kbit/s, one-way delay ms, loss %)
PROFILES = {
    "2g": (250, 400, 0),
    "slow3g": (400, 200, 0),
    "2g-loss10": (250, 400, 10),
    "2g-loss30": (250, 400, 30),
    "lan": (100000, 1, 0),
}


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def nsx(ns, *args, check=True):
    return sh("ip", "netns", "exec", ns, *args, check=check)


def down():
    pid = None
    try:
        with open(PIDFILE) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        pass
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        os.unlink(PIDFILE)
    except OSError:
        pass
    for ns in (NS_C, NS_W, NS_S):
        sh("ip", "netns", "del", ns, check=False)


def sweep():
    """Removes links left by harnesses that died without cleaning up (killed with
    SIGKILL): their forwarder is gone."""
    listing = sh("ip", "netns", "list", check=False).stdout.split()
    for ns in listing:
        if not (ns.startswith("jww") and ns[3:].isalnum()) or ns[3:] == IDENT:
            continue
        ident = ns[3:]
        try:
            with open(f"/run/jemput-weaknet-{ident}.pid") as f:
                os.kill(int(f.read().strip()), 0)
            continue  # its forwarder still runs: someone is using it
        except (OSError, ValueError):
            pass
        for prefix in ("jwc", "jww", "jws"):
            sh("ip", "netns", "del", prefix + ident, check=False)


def up(profile):
    rate, delay_ms, loss = PROFILES[profile]
    sweep()
    down()
    for ns in (NS_C, NS_W, NS_S):
        sh("ip", "netns", "add", ns)
        nsx(ns, "ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", IF_C, "netns", NS_C, "type", "veth", "peer", "name", IF_WC, "netns", NS_W)
    sh("ip", "link", "add", IF_S, "netns", NS_S, "type", "veth", "peer", "name", IF_WS, "netns", NS_W)
    for ns, dev in ((NS_C, IF_C), (NS_W, IF_WC), (NS_W, IF_WS), (NS_S, IF_S)):
        # Forwarded frames must carry finished checksums and real segment sizes.
        nsx(ns, "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off", check=False)
        nsx(ns, "ip", "link", "set", dev, "up")
    nsx(NS_C, "ip", "addr", "add", f"{CLIENT_IP}/24", "dev", IF_C)
    nsx(NS_S, "ip", "addr", "add", f"{SERVER_IP}/24", "dev", IF_S)
    for dev in (IF_WC, IF_WS):
        burst = max(1600, rate * 1000 // 8 // 50)
        nsx(NS_W, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", f"{rate}kbit",
            "burst", str(burst), "limit", "400000")
    if loss:
        rules = (
            "table inet weaknet {\n"
            "  chain input {\n"
            "    type filter hook input priority 0;\n"
            f"    numgen random mod 100 < {loss} drop\n"
            "  }\n"
            "}\n"
        )
        for ns in (NS_C, NS_S):
            subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules,
                           check=True, capture_output=True, text=True)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        # Detach from the caller's pipes, or a caller waiting for output waits forever.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execvp("ip", ["ip", "netns", "exec", NS_W, sys.executable, os.path.abspath(__file__),
                         "--id", IDENT, "forward", str(delay_ms)])
    with open(PIDFILE, "w") as f:
        f.write(str(pid))
    # Wait until the link carries packets (a new veth needs a moment).
    # A refused TCP connection to a closed port proves frames cross both ways.
    probe = (
        "import socket,sys\n"
        "s=socket.socket(); s.settimeout(3)\n"
        f"try: s.connect(('{SERVER_IP}', 9))\n"
        "except ConnectionRefusedError: sys.exit(0)\n"
        "except OSError: sys.exit(1)\n"
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        if nsx(NS_C, sys.executable, "-c", probe, check=False).returncode == 0:
            return
        time.sleep(0.2)
    down()
    sys.exit("weaknet: the link never came up")


def forward(delay_ms):
    delay = delay_ms / 1000.0
    eth_p_all = socket.htons(3)
    a = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, eth_p_all)
    a.bind((IF_WC, 0))
    b = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, eth_p_all)
    b.bind((IF_WS, 0))
    other = {a.fileno(): b, b.fileno(): a}
    state = {"cut": False}
    signal.signal(signal.SIGUSR1, lambda *_: state.update(cut=True))
    signal.signal(signal.SIGUSR2, lambda *_: state.update(cut=False))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    queue, seq = [], 0
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
        try:
            ready, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        for s in ready:
            frame, addr = s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING or state["cut"]:
                continue
            seq += 1
            heapq.heappush(queue, (time.monotonic() + delay, seq, s.fileno(), frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, frame = heapq.heappop(queue)
            if not state["cut"]:
                try:
                    other[fd].send(frame)
                except OSError:
                    pass


def signal_forwarder(sig):
    with open(PIDFILE) as f:
        pid = int(f.read().strip())
    # The forwarder is `ip netns exec` replaced by python: same pid.
    os.kill(pid, sig)


IDENT = "0"


def main():
    global IDENT
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--id":
        IDENT, args = args[1], args[2:]
    if not IDENT.isalnum() or len(IDENT) > 8:
        sys.exit("weaknet: --id must be at most 8 letters or digits")
    names(IDENT)
    sys.argv = [sys.argv[0]] + args
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "up":
        up(sys.argv[2] if len(sys.argv) > 2 else "2g")
    elif cmd == "down":
        down()
    elif cmd == "forward":
        forward(int(sys.argv[2]))
    elif cmd == "cut":
        signal_forwarder(signal.SIGUSR1)
    elif cmd == "restore":
        signal_forwarder(signal.SIGUSR2)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
