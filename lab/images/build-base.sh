#!/usr/bin/env bash
# Builds the Debian bookworm base image with debootstrap + docker import.
# No image registry is reachable, so every lab image starts here.
# The mirror comes from this machine's apt sources, never a hard-coded host.
set -euo pipefail

tag=${1:-advwell/debian:bookworm}
suite=${SUITE:-bookworm}

inputs=$(sha256sum "$0" | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "advwell.inputs"}}' "$tag" 2>/dev/null)" = "$inputs" ]; then
    echo "image $tag is cached"
    exit 0
fi

apt_mirror() {
    local uri
    # deb822 sources first ("URIs: ..."), then one-line sources ("deb URI suite ...").
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
              | grep -E '/debian/?$' | head -n1 || true)
    fi
    [ -n "$uri" ] || { echo "no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }
    echo "${uri%/}"
}

mirror=${DEBIAN_MIRROR:-$(apt_mirror)}
rootfs=$(mktemp -d /var/tmp/advwell-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "debootstrap $suite from $mirror into $rootfs"
debootstrap --variant=minbase \
    --include=python3,python3-apt,sudo,systemd,systemd-sysv,dbus,ca-certificates,iproute2,procps,netcat-openbsd,less \
    "$suite" "$rootfs" "$mirror"

# Same mirror inside the image, so apt in containers reaches what the machine reaches.
security=${mirror%/debian}/debian-security
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
# No package lists in the image: mark them stale so the first apt run updates.
touch -d 2000-01-01 "$rootfs/var/lib/apt/lists"
echo 'advwell' > "$rootfs/etc/hostname"

tar -C "$rootfs" -c . | docker import \
    --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL advwell.inputs=$inputs" \
    - "$tag"
echo "built $tag"
