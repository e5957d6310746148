#!/usr/bin/env bash
# `./dev image`: builds the OCI image of Containerfile offline, without pulling any base image
# (no container registry is reachable here), then checks what is in it.
#
#   1. release binaries: registry, evaluation, certification, promotion, ocop;
#   2. a root filesystem from Debian's packages (apt-get download, the versions installed on
#      this machine, so the binaries find the glibc they were linked against): libc6 and
#      libgcc-s1, plus /etc/passwd and /etc/group with user ocop (10001);
#   3. umoci (Debian's package) writes it as an OCI image layout, with the user, entrypoint
#      and labels of the Containerfile, and target/image/ocop-VERSION.oci.tar
#      (`podman load -i` or `skopeo copy oci-archive:...` read it);
#   4. checks: the config's user is 10001:10001 and its entrypoint /usr/local/bin/ocop, the
#      labels carry version and source, no file looks like a key or token, and each binary of
#      the unpacked image runs `--version` as user 10001 in a chroot of the image's rootfs.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOURCE=$(git remote get-url origin 2>/dev/null || echo "local checkout $(pwd -P)")
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
BINARIES=(registry evaluation certification promotion ocop)
WORK=target/image
say() { printf '\033[1m[image]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v umoci >/dev/null; then
  say "installing umoci with apt"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends umoci >/dev/null
fi

# IMAGE_PROFILE=debug packs the debug binaries instead (quicker, to try this script).
PROFILE="${IMAGE_PROFILE:-release}"
say "building the $PROFILE binaries"
if [ "$PROFILE" = release ]; then
  cargo build --release --locked $(printf -- '--bin %s ' "${BINARIES[@]}")
else
  cargo build --locked $(printf -- '--bin %s ' "${BINARIES[@]}")
fi

rm -rf "$WORK" && mkdir -p "$WORK/debs" "$WORK/rootfs"
say "fetching Debian's libc6 and libgcc-s1 (the versions installed here)"
(
  cd "$WORK/debs"
  for pkg in libc6 libgcc-s1; do
    version=$(dpkg-query -W -f='${Version}' "$pkg")
    apt-get download -q "$pkg=$version" >/dev/null 2>&1 \
      || { as_root apt-get update -q >/dev/null; apt-get download -q "$pkg=$version" >/dev/null; }
  done
)
rootfs="$WORK/rootfs"
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$rootfs"; done
# What the services never read: documentation, locales, the dynamic loader's helper scripts.
rm -rf "$rootfs/usr/share/doc" "$rootfs/usr/share/lintian" "$rootfs/usr/share/locale" "$rootfs/usr/bin" "$rootfs/usr/sbin"
mkdir -p "$rootfs/etc" "$rootfs/usr/local/bin" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nocop:x:10001:10001:ocop:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nocop:x:10001:\n' >"$rootfs/etc/group"
for bin in "${BINARIES[@]}"; do install -m 0755 "target/$PROFILE/$bin" "$rootfs/usr/local/bin/$bin"; done

say "writing the OCI image with umoci"
layout="$WORK/oci"
umoci init --layout "$layout"
umoci new --image "$layout:$VERSION"
unpack() { if [ "$(id -u)" = 0 ]; then umoci unpack "$@"; else umoci unpack --rootless "$@"; fi; }
unpack --image "$layout:$VERSION" "$WORK/bundle" >/dev/null
cp -a "$rootfs/." "$WORK/bundle/rootfs/"
umoci repack --image "$layout:$VERSION" "$WORK/bundle"
umoci config --image "$layout:$VERSION" \
  --config.user 10001:10001 --config.workingdir / \
  --config.entrypoint /usr/local/bin/ocop --config.cmd=--help \
  --config.env PATH=/usr/local/bin \
  --config.label "org.opencontainers.image.title=ocop" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.source=$SOURCE" \
  --config.label "org.opencontainers.image.revision=$REVISION" \
  --config.label "org.opencontainers.image.licenses=Apache-2.0"
umoci gc --layout "$layout"
tar -C "$layout" -cf "$WORK/ocop-$VERSION.oci.tar" .

say "checking the image"
stat_json=$(umoci stat --image "$layout:$VERSION" --json)
config_digest=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/index.json")); print(m["manifests"][0]["digest"])' "$layout")
python3 - "$layout" "$VERSION" "$SOURCE" <<'EOF'
import json, sys
layout, version, source = sys.argv[1:]
blob = lambda d: json.load(open(f"{layout}/blobs/{d.replace(':', '/')}"))
index = json.load(open(f"{layout}/index.json"))
manifest = blob(index["manifests"][0]["digest"])
config = blob(manifest["config"]["digest"])["config"]
problems = []
if config.get("User") != "10001:10001": problems.append(f"user is {config.get('User')!r}, not 10001:10001")
if config.get("Entrypoint") != ["/usr/local/bin/ocop"]: problems.append(f"entrypoint is {config.get('Entrypoint')}")
labels = config.get("Labels", {})
if labels.get("org.opencontainers.image.version") != version: problems.append("no version label")
if labels.get("org.opencontainers.image.source") != source: problems.append("no source label")
if any(k in e for e in config.get("Env", []) for k in ("PASSWORD", "TOKEN", "SECRET", "postgres://")):
    problems.append(f"a secret-looking environment variable: {config.get('Env')}")
if problems:
    print("image check failed: " + "; ".join(problems)); sys.exit(1)
print(f"user {config['User']}, entrypoint {config['Entrypoint']}, labels {sorted(labels)}")
EOF
rm -rf "$WORK/check" && unpack --image "$layout:$VERSION" "$WORK/check" >/dev/null
secrets=$(find "$WORK/check/rootfs" -type f \( -name '*.pem' -o -name '*.jwt' -o -name '*.key' -o -name 'jwks.json' -o -name '*.toml' \) | head)
[ -z "$secrets" ] || { say "FAILED: files that look like secrets or configuration: $secrets"; exit 1; }
[ "$(stat -c %u "$WORK/check/rootfs/usr/local/bin/ocop")" = 0 ] || { say "FAILED: the binaries must belong to root (not writable by 10001)"; exit 1; }
if [ "$(id -u)" = 0 ]; then
  for bin in "${BINARIES[@]}"; do
    out=$(chroot --userspec=10001:10001 "$WORK/check/rootfs" "/usr/local/bin/$bin" --version) \
      || { say "FAILED: $bin --version in the image"; exit 1; }
    say "  $bin --version as 10001 in the image: $out"
  done
else
  say "not root: the binaries were not run inside the image's rootfs (chroot needs root)"
fi
size=$(du -sh "$WORK/ocop-$VERSION.oci.tar" | cut -f1)
say "image $layout:$VERSION ($config_digest), archive $WORK/ocop-$VERSION.oci.tar ($size)"
echo "$stat_json" >"$WORK/stat.json"
