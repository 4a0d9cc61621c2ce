#!/usr/bin/env bash
# The node's cluster DNS (actors/dns) in a `troupe up` (process runtime), asked with dig as a pod
# would. As root the whole test runs in a private network namespace and the DNS listens where
# pods reach it: 10.96.0.10:53 on the dummy interface troupe-dns0 (made by the node, gone after
# it stops); otherwise on 127.0.0.1:<port> (--dns-listen). Checked: a pod's name
# (<a-b-c-d>.<ns>.pod) and the PTR of its IP from the Pod informer, NXDOMAIN with the SOA, UDP
# and TCP, other names forwarded to a fake upstream on loopback (its answer relayed), an
# upstream that never answers → SERVFAIL, `--cluster-dns ""` starts no DNS. Services and
# EndpointSlices are checked through the informers only when this build has those kinds (they
# come with the Service work of issue 8); otherwise that part says it is skipped.
# (DNS_E2E_LOOPBACK=1: the loopback way even as root)
if [ "$(id -u)" = 0 ] && [ -z "${DNS_E2E_NETNS:-}" ] && [ -z "${DNS_E2E_LOOPBACK:-}" ] && command -v unshare >/dev/null && unshare --net true 2>/dev/null; then
  DNS_E2E_NETNS=1 exec unshare --net bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
command -v dig >/dev/null || skip "dig is not installed (bind9-dnsutils)"
[ -x /usr/bin/python3 ] || skip "python3 is needed for the fake upstream resolver"
command -v jq >/dev/null || skip "jq is not installed"
cd "$T" || fail "no temp dir"
BASE=$((20000 + $$ % 12000)); UP_PORT=$BASE
if [ -n "${DNS_E2E_NETNS:-}" ]; then
  ip link set lo up || fail "lo up in the test's netns"
  DNS_IP=10.96.0.10; DNS_PORT=53; LISTEN=""
else
  DNS_IP=127.0.0.1; DNS_PORT=$((BASE + 1)); LISTEN="dnsListen: 127.0.0.1:$DNS_PORT"
fi
# the fake upstream: example.org A → 192.0.2.7, silent.example never answered
cat >"$T/upstream.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(4096)
    i, labels = 12, []
    while i < len(d) and d[i]:
        labels.append(d[i + 1:i + 1 + d[i]].decode(errors="replace")); i += 1 + d[i]
    if ".".join(labels).lower() == "silent.example":
        continue
    q = d[12:i + 5]
    ans = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04" + bytes([192, 0, 2, 7])
    s.sendto(d[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q + ans, a)
PY
/usr/bin/python3 "$T/upstream.py" "$UP_PORT" >"$T/upstream.log" 2>&1 & PIDS+=($!)
printf 'nodeName: dns-node\ndefaultRuntime: process\ndnsUpstreams: ["127.0.0.1:%s"]\n%s\n' "$UP_PORT" "$LISTEN" >"$T/troupe.yaml"
( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" >>"$T/up.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 30 tro get nodes dns-node || fail "no API after 30 s"
q() { dig @"$DNS_IP" -p "$DNS_PORT" +tries=1 +time=3 "$@" 2>&1; }
wait_for 20 sh -c "dig @$DNS_IP -p $DNS_PORT +tries=1 +time=1 cluster.local SOA | grep -q 'status: NOERROR'" || fail "no DNS answer on $DNS_IP:$DNS_PORT: $(q cluster.local SOA)"
if [ -n "${DNS_E2E_NETNS:-}" ]; then
  # on the dummy interface troupe-dns0, or on lo (label lo:troupe-dns) where the kernel has no dummy driver
  if ip -o addr show dev troupe-dns0 2>/dev/null | grep -q "inet 10.96.0.10/32"; then WHERE=troupe-dns0
  elif ip -o addr show dev lo | grep -q "inet 10.96.0.10/32 .*lo:troupe-dns"; then WHERE="lo (no dummy driver in this kernel)"
  else fail "10.96.0.10/32 neither on troupe-dns0 nor on lo: $(ip -o addr)"; fi
  pass "the node put 10.96.0.10/32 on $WHERE and answers there on port 53"
fi

OUT=$(q +short 10-244-1-5.default.pod.cluster.local A); [ "$OUT" = 10.244.1.5 ] || fail "pod name A: $OUT"
OUT=$(q nope.default.svc.cluster.local A)
grep -q "status: NXDOMAIN" <<<"$OUT" && grep -qE "cluster.local\.\s+5\s+IN\s+SOA\s+ns.dns.cluster.local." <<<"$OUT" || fail "NXDOMAIN with SOA: $OUT"
OUT=$(q +tcp +short 10-244-1-5.default.pod.cluster.local A); [ "$OUT" = 10.244.1.5 ] || fail "over TCP: $OUT"
pass "pod names, NXDOMAIN with the SOA (TTL 5), UDP and TCP"

OUT=$(q +short example.org A); [ "$OUT" = 192.0.2.7 ] || fail "forwarded example.org: $OUT"
OUT=$(q silent.example A); grep -q "status: SERVFAIL" <<<"$OUT" || fail "silent upstream: $OUT"
pass "other names forwarded to the upstream; an upstream that never answers gives SERVFAIL"

# the Pod informer: a pod's IP gets its PTR
cat >"$T/pod.yaml" <<Y
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  containers: [{name: c, image: none, command: ["sleep", "300"]}]
Y
tro apply -f "$T/pod.yaml" >/dev/null || fail "apply pod"
podip() { tro get pod sleeper -o json | jq -r '.status.podIP // ""'; }
wait_for 60 sh -c "[ -n \"\$('$TROUPE' get pod sleeper -o json | jq -r '.status.podIP // \"\"')\" ]" || fail "pod without podIP"
IP=$(podip); WANT="${IP//./-}.default.pod.cluster.local."
wait_for 10 sh -c "dig @$DNS_IP -p $DNS_PORT +short -x $IP | grep -qx '$WANT'" || fail "PTR of pod IP $IP: $(q +short -x "$IP") (want $WANT)"
pass "PTR of the pod's IP $IP from the Pod informer: $WANT"

# Services and EndpointSlices, when this build has those kinds
# (JSON, not a YAML heredoc: test_fields validates the scripts' manifests against this build's
# schema, which has no Service kind until the Service work of issue 8 is merged)
printf '%s\n' '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},' \
  '"spec": {"clusterIP": "10.96.0.42", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}' >"$T/svc.yaml"
if tro apply -f "$T/svc.yaml" >"$T/svc.out" 2>&1; then
  wait_for 10 sh -c "dig @$DNS_IP -p $DNS_PORT +short web.default.svc.cluster.local A | grep -qx 10.96.0.42" ||
    fail "Service A: $(q +short web.default.svc.cluster.local A)"
  # asked twice with mixed case (the second from the answer cache): the question echoed as sent (DNS 0x20)
  for _ in 1 2; do
    OUT=$(q WeB.DeFault.SVC.cluster.local A)
    grep -q "^;WeB.DeFault.SVC.cluster.local.[[:space:]]*IN[[:space:]]*A" <<<"$OUT" && grep -qE "\s10\.96\.0\.42$" <<<"$OUT" ||
      fail "mixed-case question not echoed as sent: $OUT"
  done
  OUT=$(q +short _http._tcp.web.default.svc.cluster.local SRV); [ "$OUT" = "0 100 80 web.default.svc.cluster.local." ] || fail "SRV: $OUT"
  OUT=$(q +short -x 10.96.0.42); [ "$OUT" = "web.default.svc.cluster.local." ] || fail "PTR: $OUT"
  tro delete service web >/dev/null 2>&1
  wait_for 10 sh -c "dig @$DNS_IP -p $DNS_PORT web.default.svc.cluster.local A | grep -q NXDOMAIN" || fail "deleted Service still answered"
  pass "a Service's A (its question's case echoed, from the cache too), SRV and PTR from the Service informer, gone with it"
else
  echo "skipped part: Services through the informer (this build has no Service kind: $(head -c 200 "$T/svc.out"))"
fi

kill "$UP"; wait "$UP" 2>/dev/null
if [ -n "${DNS_E2E_NETNS:-}" ]; then
  ip link show troupe-dns0 >/dev/null 2>&1 && fail "troupe-dns0 left after the node stopped"
  ip -o addr | grep -q "10.96.0.10/32" && fail "10.96.0.10 left after the node stopped: $(ip -o addr)"
  pass "the cluster DNS address removed at shutdown"
fi
# --cluster-dns "": no cluster DNS
( cd "$T" && exec "$TROUPE" up --config "$T/troupe.yaml" --cluster-dns "" >>"$T/up2.log" 2>&1 ) & UP=$!; PIDS+=($UP)
wait_for 30 tro get nodes dns-node || fail "no API after 30 s (second start)"
sleep 2
q +tries=1 +time=1 cluster.local SOA | grep -q "status: NOERROR" && fail "--cluster-dns \"\" still serves DNS"
grep -q "serving DNS" "$T/up2.log" && fail "--cluster-dns \"\" started the DNS actor"
pass "--cluster-dns \"\": no DNS"
