#!/usr/bin/python3
"""A steady stream of writes against a Troupe broker, for tests that check nothing starves.

    loadgen.py ENDPOINT RATE SECONDS KIND/NS/NAME[,KIND/NS/NAME…]

Merge-patches an annotation of the named objects in turn (msgpack envelopes over ZeroMQ,
docs/protocol.md), RATE writes a second for at most SECONDS (or until SIGTERM), keeping up to LOADGEN_WINDOW (16)
requests in flight. Prints one line at the end: "loadgen: N writes in S s (R/s), E errors" and
exits 0, or 1 when fewer than half the writes it meant to send were acknowledged.
"""
import os
import signal
import sys
import time

import msgpack
import zmq


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    endpoint, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    targets = [t.split("/", 2) for t in sys.argv[4].split(",")]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    window, inflight, sent, ok, errors = int(os.environ.get("LOADGEN_WINDOW", "16")), {}, 0, 0, 0
    t0 = time.monotonic()
    last_error = ""
    while not stop and time.monotonic() - t0 < seconds:
        due = int((time.monotonic() - t0) * rate)  # writes that should have been sent by now
        while sent < due and len(inflight) < window:
            kind, ns, name = targets[sent % len(targets)]
            rid = sent + 1
            req = {"v": 1, "id": rid, "verb": "patch", "kind": kind, "ns": ns, "name": name,
                   "body": {"metadata": {"annotations": {"loadgen": str(rid)}}}}
            sock.send(msgpack.packb(req, use_bin_type=True))
            inflight[rid] = time.monotonic()
            sent += 1
        if sock.poll(5):
            while True:
                try:
                    r = msgpack.unpackb(sock.recv(zmq.NOBLOCK), raw=False)
                except zmq.Again:
                    break
                if r.get("verb") != "reply" or inflight.pop(r.get("id"), None) is None:
                    continue
                if r.get("code"):
                    errors += 1
                    last_error = "%s %s" % (r.get("code"), r.get("msg"))
                else:
                    ok += 1
    end = time.monotonic() + 3
    while inflight and time.monotonic() < end:
        if sock.poll(100):
            r = msgpack.unpackb(sock.recv(), raw=False)
            if inflight.pop(r.get("id"), None) is not None:
                ok += 0 if r.get("code") else 1
    secs = time.monotonic() - t0
    print("loadgen: %d writes in %.1f s (%.0f/s), %d errors%s" %
          (ok, secs, ok / secs, errors, (" (last: %s)" % last_error) if errors else ""))
    sock.close()
    ctx.term()
    return 0 if ok >= sent / 2 else 1


if __name__ == "__main__":
    sys.exit(main())
