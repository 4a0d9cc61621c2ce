#!/usr/bin/env bash
# Fixture of tests/unit/test_imgstore.c: two docker-registry instances on loopback (D/reg open,
# D/areg with htpasswd basic auth, alice:s3cret), a busybox image built with umoci and pushed to
# both, a multi-arch index (amd64 + a crafted arm64 manifest) and an arm64-only index, and the
# image as oci-archive and docker-archive tarballs. Usage: imgstore_setup.sh D PORT APORT
set -eu
D=$1 PORT=$2 APORT=$3
mkdir -p "$D/reg/data" "$D/areg/data"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$D/reg/data" "$PORT" >"$D/reg/config.yml"
htpasswd -Bbn alice s3cret >"$D/areg/htpasswd"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\nauth:\n  htpasswd:\n    realm: troupe\n    path: %s\n' "$D/areg/data" "$APORT" "$D/areg/htpasswd" >"$D/areg/config.yml"
docker-registry serve "$D/reg/config.yml" >"$D/reg/log" 2>&1 & echo $! >"$D/reg/pid"
docker-registry serve "$D/areg/config.yml" >"$D/areg/log" 2>&1 & echo $! >"$D/areg/pid"
for p in $PORT $APORT; do
  end=$((SECONDS + 15)); ok=0
  while [ $SECONDS -lt $end ]; do
    c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/v2/" || true)
    [ "$c" = 200 ] || [ "$c" = 401 ] && { ok=1; break; }
    sleep 0.2
  done
  [ $ok = 1 ] || { echo "registry on $p did not start"; cat "$D"/reg/log "$D"/areg/log; exit 1; }
done
umoci init --layout "$D/layout" && umoci new --image "$D/layout:1" && umoci unpack --image "$D/layout:1" "$D/bundle" >/dev/null
mkdir -p "$D/bundle/rootfs/bin" "$D/bundle/rootfs/tmp"
cp "$(command -v busybox)" "$D/bundle/rootfs/bin/busybox"
for a in sh ls cat echo; do ln -sf busybox "$D/bundle/rootfs/bin/$a"; done
echo imgstore-marker >"$D/bundle/rootfs/acc-marker"
umoci repack --image "$D/layout:1" "$D/bundle" >/dev/null
umoci config --image "$D/layout:1" --config.cmd /bin/sh >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$D/layout:1" "docker://127.0.0.1:$PORT/acc/busybox:1" >/dev/null
skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret "oci:$D/layout:1" "docker://127.0.0.1:$APORT/acc/busybox:1" >/dev/null
skopeo copy -q "oci:$D/layout:1" "oci-archive:$D/oci.tar:example.com/imp/oci:1" >/dev/null
skopeo copy -q "oci:$D/layout:1" "docker-archive:$D/docker.tar:example.com/imp/docker:2" >/dev/null

R=http://127.0.0.1:$PORT/v2/acc/busybox
MT=application/vnd.oci.image.manifest.v1+json
IT=application/vnd.oci.image.index.v1+json
sha() { echo "sha256:$(sha256sum <"$1" | cut -d' ' -f1)"; }
curl -fsS -H "Accept: $MT" "$R/manifests/1" >"$D/m.json"
cdig=$(jq -r .config.digest "$D/m.json")
curl -fsS "$R/blobs/$cdig" | jq -c '.architecture="arm64" | .variant="v8"' >"$D/c-arm.json"
loc=$(curl -fsS -X POST -D - -o /dev/null "$R/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
case $loc in http*) ;; *) loc="http://127.0.0.1:$PORT$loc" ;; esac
case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$D/c-arm.json" "$loc${sep}digest=$(sha "$D/c-arm.json")" >/dev/null
jq -c --arg d "$(sha "$D/c-arm.json")" --argjson s "$(stat -c%s "$D/c-arm.json")" '.config.digest=$d | .config.size=$s' "$D/m.json" >"$D/m-arm.json"
curl -fsS -X PUT -H "Content-Type: $MT" --data-binary "@$D/m-arm.json" "$R/manifests/arm64" >/dev/null
# a config whose first diff id is a path, not hex: the first layer's chain id is its diff id, and
# names the layer's directory (layers/<chain>/fs): "../"x19 "./"x2 "sys" would be the host's /sys/fs
evil="sha256:$(printf '../%.0s' $(seq 19))././sys"
curl -fsS "$R/blobs/$cdig" | jq -c --arg e "$evil" '.rootfs.diff_ids[0]=$e' >"$D/c-evil.json"
loc=$(curl -fsS -X POST -D - -o /dev/null "$R/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
case $loc in http*) ;; *) loc="http://127.0.0.1:$PORT$loc" ;; esac
case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$D/c-evil.json" "$loc${sep}digest=$(sha "$D/c-evil.json")" >/dev/null
jq -c --arg d "$(sha "$D/c-evil.json")" --argjson s "$(stat -c%s "$D/c-evil.json")" '.config.digest=$d | .config.size=$s' "$D/m.json" >"$D/m-evil.json"
curl -fsS -X PUT -H "Content-Type: $MT" --data-binary "@$D/m-evil.json" "$R/manifests/evil" >/dev/null
entry() { jq -n -c --arg d "$(sha "$1")" --argjson s "$(stat -c%s "$1")" --arg a "$2" --arg v "$3" --arg mt "$MT" \
  '{mediaType:$mt, digest:$d, size:$s, platform:({os:"linux", architecture:$a} + (if $v == "" then {} else {variant:$v} end))}'; }
arm=$(entry "$D/m-arm.json" arm64 v8); amd=$(entry "$D/m.json" amd64 "")
jq -n -c --argjson a "$arm" --argjson b "$amd" --arg it "$IT" '{schemaVersion:2, mediaType:$it, manifests:[$a,$b]}' >"$D/idx.json"
jq -n -c --argjson a "$arm" --arg it "$IT" '{schemaVersion:2, mediaType:$it, manifests:[$a]}' >"$D/idx-arm.json"
curl -fsS -X PUT -H "Content-Type: $IT" --data-binary "@$D/idx.json" "$R/manifests/multi" >/dev/null
curl -fsS -X PUT -H "Content-Type: $IT" --data-binary "@$D/idx-arm.json" "$R/manifests/armonly" >/dev/null
sha "$D/m.json" >"$D/amd64.digest"
sha "$D/m-arm.json" >"$D/arm64.digest"
sha "$D/idx.json" >"$D/index.digest"
jq -r '.layers[0].digest' "$D/m.json" >"$D/layer.digest"
