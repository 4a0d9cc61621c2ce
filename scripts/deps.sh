#!/usr/bin/env bash
# Installs the Debian packages Troupe needs. Usage: scripts/deps.sh [build|test|bench]
# Idempotent: skips apt-get when everything is already installed.
set -eu
what=${1:-build}
pkgs="build-essential cmake pkg-config libczmq-dev libzmq3-dev libmsgpack-dev liblmdb-dev libyaml-dev libjansson-dev libsodium-dev libraft-dev libuv1-dev liblz4-dev libcurl4-openssl-dev libarchive-dev libnftables-dev libldns-dev libmnl-dev zlib1g-dev libjemalloc-dev runc conmon containernetworking-plugins iptables iproute2 busybox-static ca-certificates"
case "$what" in
  test)  pkgs="$pkgs libcmocka-dev python3 python3-zmq python3-msgpack jq clang-14 libclang-rt-14-dev procps iproute2 docker-registry skopeo umoci curl apache2-utils nftables bind9-dnsutils" ;;
  bench) pkgs="$pkgs lmdb-utils etcd-server etcd-client golang-go golang-etcd-server-dev dnsperf nsd gnuplot-nox" ;;
esac
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "deps: installing$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
