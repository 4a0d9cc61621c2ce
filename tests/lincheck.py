#!/usr/bin/python3
"""Linearizability of a compare-and-swap register, recorded against Troupe and checked offline.

    lincheck.py record OUT.json SECONDS ENDPOINT[,ENDPOINT…] [CLIENTS]
        Drives CLIENTS concurrent clients (default 3) against the ConfigMap default/lin-reg through
        the brokers' local ipc endpoints (msgpack envelopes over ZeroMQ, docs/protocol.md) and
        records every operation: read, write (update without precondition) and cas (update with
        the resourceVersion of a read: succeeds only if the register still holds that value).
        Each written value is unique, so a value names a state. Outcomes: ok, fail (a definite
        no-effect: Conflict) or unknown (timeout, ServiceUnavailable: it may or may not have
        taken effect).
    lincheck.py check HISTORY.json
        Exit 0 if the history is linearizable, 1 (with the smallest failing prefix) if not.
    lincheck.py self-test
        Checks the checker on histories whose answer is known.

The check is the Wing & Gong search (as in Knossos and Porcupine): repeatedly pick an operation
that may take effect next — one called before every pending completed operation returned —
apply it to the register model, and backtrack; states already visited (set of linearized
operations, register value) are memoised. Operations with an unknown outcome are optional: they
may take effect at any point after their call, or never.
"""
import json
import random
import sys
import threading
import time

INF = float("inf")


def check(history, init):
    """Returns (True, None) or (False, index of the op that could not be placed)."""
    ops = []
    for op in history:
        if op["ok"] is False and op["f"] != "cas":
            continue  # a failed read or write had no effect and says nothing
        if op["ok"] is None and op["f"] == "read":
            continue  # a read with no answer says nothing
        ops.append(dict(op, ret=INF if op["ok"] is None else op["ret"]))
    ops.sort(key=lambda o: o["call"])
    n = len(ops)
    required = 0
    for i, op in enumerate(ops):
        if op["ok"] is not None:
            required |= 1 << i

    def step(op, state):
        """New state if op can take effect in state, else None."""
        f = op["f"]
        if f == "read":
            return state if op["out"] == state else None
        if f == "write":
            return op["value"]
        # cas
        if op["ok"] is False:
            return state if state != op["expect"] else None
        return op["value"] if state == op["expect"] else None

    optional = [i for i in range(n) if ops[i]["ok"] is None]
    seen = set()
    stack = [(0, init)]
    deepest = 0
    while stack:
        done, state = stack.pop()
        if done & required == required:
            return True, None
        if (done, state) in seen:
            continue
        seen.add((done, state))
        deepest = max(deepest, bin(done & required).count("1"))
        # ops are sorted by call and ret >= call, so both scans stop at the first op called after
        # the horizon: the earliest return among required ops not yet placed
        rest = required & ~done
        lo = (rest & -rest).bit_length() - 1
        horizon = INF
        i = lo
        while i < n and ops[i]["call"] <= horizon:
            if not done >> i & 1 and ops[i]["ret"] < horizon:
                horizon = ops[i]["ret"]
            i += 1
        cands = [i for i in optional if i < lo and not done >> i & 1 and ops[i]["call"] <= horizon]
        i = lo
        while i < n and ops[i]["call"] <= horizon:
            if not done >> i & 1:
                cands.append(i)
            i += 1
        for i in cands:
            nxt = step(ops[i], state)
            if nxt is not None:
                stack.append((done | 1 << i, nxt))
    return False, deepest


# ---- recording -------------------------------------------------------------------------------

def recorder(out, seconds, endpoints, clients):
    import msgpack
    import zmq

    ctx = zmq.Context()
    name = "lin-reg"
    history = []
    lock = threading.Lock()
    t0 = time.monotonic()

    def call(sock, req, timeout=3.0):
        req = dict(req, v=1)
        sock.send(msgpack.packb(req, use_bin_type=True))
        if not sock.poll(int(timeout * 1000)):
            return None
        return msgpack.unpackb(sock.recv(), raw=False)

    def fresh(ep):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(ep)
        return s

    # the register starts as "init" (created or reset before the run)
    s = fresh(endpoints[0])
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
           "data": {"v": "init"}}
    for attempt in range(50):
        r = call(s, {"id": 1, "verb": "get", "kind": "ConfigMap", "ns": "default", "name": name})
        if r and not r.get("code"):
            cur = r["body"]
            cur["data"] = {"v": "init"}
            r = call(s, {"id": 2, "verb": "update", "kind": "ConfigMap", "ns": "default", "name": name, "body": cur})
        else:
            r = call(s, {"id": 2, "verb": "create", "kind": "ConfigMap", "ns": "default", "name": name, "body": obj})
        if r and not r.get("code"):
            break
        time.sleep(0.2)
    else:
        sys.exit("lincheck: cannot initialise the register")
    s.close()

    def client(proc):
        rnd = random.Random(proc)
        ep_i = proc % len(endpoints)
        sock = fresh(endpoints[ep_i])
        seq = 0
        rid = 100
        while time.monotonic() - t0 < seconds:
            time.sleep(0.01)  # ~50 operations a second per client: histories stay checkable
            rid += 1
            kind = rnd.choice(["read", "read", "write", "cas"])
            now = lambda: time.monotonic() - t0
            if kind == "read" or kind == "cas":
                c = now()
                r = call(sock, {"id": rid, "verb": "get", "kind": "ConfigMap", "ns": "default", "name": name})
                ret = now()
                if r is None:
                    # no answer: this socket may hold a late reply; start a new one elsewhere
                    sock.close()
                    ep_i = (ep_i + 1) % len(endpoints)
                    sock = fresh(endpoints[ep_i])
                    with lock:
                        history.append({"proc": proc, "f": "read", "ok": None, "call": c, "ret": ret, "out": None})
                    continue
                if r.get("code"):
                    with lock:
                        history.append({"proc": proc, "f": "read", "ok": False, "call": c, "ret": ret, "out": None})
                    continue
                val = r["body"]["data"]["v"]
                rv = r.get("rv") or int(r["body"]["metadata"]["resourceVersion"])
                with lock:
                    history.append({"proc": proc, "f": "read", "ok": True, "call": c, "ret": ret, "out": val})
                if kind == "read":
                    continue
                cur = r["body"]
            else:
                cur = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}
                rv = None
                val = None
            seq += 1
            newv = "p%d-%d" % (proc, seq)
            body = dict(cur, data={"v": newv})
            body["metadata"] = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
            req = {"id": rid + 100000, "verb": "update", "kind": "ConfigMap", "ns": "default", "name": name,
                   "body": body}
            if kind == "cas":
                req["rv"] = rv
            c = now()
            r = call(sock, req)
            ret = now()
            if r is None:
                ok = None
                sock.close()
                ep_i = (ep_i + 1) % len(endpoints)
                sock = fresh(endpoints[ep_i])
            elif not r.get("code"):
                ok = True
            elif r["code"] == "Conflict" and kind == "cas":
                ok = False
            elif r["code"] == "ServiceUnavailable" and "was not made" in (r.get("msg") or ""):
                ok = False  # refused before reaching the log
            elif r["code"] in ("ServiceUnavailable", "Timeout", "InternalError"):
                ok = None  # the write may still commit
            else:
                ok = False
            op = {"proc": proc, "f": kind, "ok": ok, "call": c, "ret": ret, "value": newv}
            if r is not None and r.get("code"):
                op["code"] = r["code"]
            if kind == "cas":
                op["expect"] = val
            with lock:
                history.append(op)
        sock.close()

    threads = [threading.Thread(target=client, args=(p,)) for p in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx.term()
    with open(out, "w") as f:
        json.dump({"init": "init", "history": history}, f)
    counts = {}
    for op in history:
        key = "%s/%s" % (op["f"], {True: "ok", False: "fail", None: "unknown"}[op["ok"]])
        if op["f"] == "write" and op.get("code"):
            key += "(%s)" % op["code"]
        counts[key] = counts.get(key, 0) + 1
    print("recorded %d operations: %s" % (len(history), ", ".join("%s=%d" % kv for kv in sorted(counts.items()))))


# ---- self test -------------------------------------------------------------------------------

def self_test():
    def op(f, call, ret, ok=True, **kw):
        return dict(f=f, call=call, ret=ret, ok=ok, proc=0, **kw)

    cases = [
        ("sequential write then read", True,
         [op("write", 0, 1, value="a"), op("read", 2, 3, out="a")]),
        ("stale read after a completed write", False,
         [op("write", 0, 1, value="a"), op("read", 2, 3, out="init")]),
        ("concurrent read may see either", True,
         [op("write", 0, 5, value="a"), op("read", 1, 2, out="init"), op("read", 3, 4, out="a")]),
        ("reads going back in time", False,
         [op("write", 0, 10, value="a"), op("read", 1, 2, out="a"), op("read", 3, 4, out="init")]),
        ("cas from the right value", True,
         [op("write", 0, 1, value="a"), op("cas", 2, 3, expect="a", value="b"), op("read", 4, 5, out="b")]),
        ("two cas from the same value both succeed", False,
         [op("cas", 0, 1, expect="init", value="a"), op("cas", 2, 3, expect="init", value="b")]),
        ("failed cas while the value matched", False,
         [op("cas", 0, 1, ok=False, expect="init", value="a")]),
        ("unknown write seen later", True,
         [op("write", 0, 1, ok=None, value="a"), op("read", 5, 6, out="a")]),
        ("unknown write never seen", True,
         [op("write", 0, 1, ok=None, value="a"), op("read", 5, 6, out="init")]),
        ("unknown write seen, then gone", False,
         [op("write", 0, 1, ok=None, value="a"), op("read", 5, 6, out="a"), op("read", 7, 8, out="init")]),
        ("lost acknowledged write", False,
         [op("write", 0, 1, value="a"), op("write", 2, 3, value="b"), op("read", 4, 5, out="a")]),
    ]
    bad = 0
    for name, want, hist in cases:
        got, _ = check(hist, "init")
        print("%-45s %s" % (name, "ok" if got == want else "WRONG (got %s)" % got))
        bad += got != want
    # a larger random sequential history is linearizable; corrupting one read breaks it
    rnd = random.Random(7)
    hist, state, t = [], "init", 0.0
    for i in range(300):
        if rnd.random() < 0.5:
            hist.append(op("read", t, t + 0.5, out=state))
        else:
            state = "v%d" % i
            hist.append(op("write", t, t + 0.5, value=state))
        t += 1
    ok, _ = check(hist, "init")
    reads = [h for h in hist if h["f"] == "read" and h["out"] != "init"]
    reads[len(reads) // 2]["out"] = "init"
    broken, _ = check(hist, "init")
    print("%-45s %s" % ("300-op sequential history / corrupted", "ok" if ok and not broken else "WRONG"))
    bad += not (ok and not broken)
    return 1 if bad else 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "self-test":
        sys.exit(self_test())
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        with open(sys.argv[2]) as f:
            h = json.load(f)
        ok, deepest = check(h["history"], h["init"])
        n = len(h["history"])
        if ok:
            print("linearizable: %d operations" % n)
            sys.exit(0)
        print("NOT linearizable: %d operations; no order places more than %s of the completed ones" % (n, deepest))
        sys.exit(1)
    if len(sys.argv) >= 5 and sys.argv[1] == "record":
        recorder(sys.argv[2], float(sys.argv[3]), sys.argv[4].split(","), int(sys.argv[5]) if len(sys.argv) > 5 else 3)
        sys.exit(0)
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
