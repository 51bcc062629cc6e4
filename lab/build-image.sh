#!/usr/bin/env bash
# Build a systemd-capable Debian container image from Debian's archive (no registry exists here).
# The image carries a label with the hash of this recipe, so it is rebuilt only when the recipe changes.
# Usage: lab/build-image.sh RELEASE   (bookworm | trixie)
set -euo pipefail

release="${1:?usage: $0 bookworm|trixie}"
case "$release" in bookworm|trixie) ;; *) echo "unsupported release '$release': use bookworm or trixie" >&2; exit 2 ;; esac

here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
image="localhost/ha-lamp-debian:${release}"
mirror="${HA_LAMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Packages the roles expect on every host before Ansible runs: python3 for modules, systemd as PID 1,
# python3-apt for ansible.builtin.apt, iproute2/procps for the drills' inspection commands, and
# openssh-server: Ansible reaches the lab hosts over SSH with pipelining, as it reaches real servers
# (a podman exec per module step costs ~0.4 s under load, several times an SSH round trip).
packages="python3,python3-apt,systemd,systemd-sysv,dbus,iproute2,procps,iputils-ping,ca-certificates,curl,less,openssh-server"
recipe_hash="$( { cat "$0"; echo "$release $packages"; } | sha256sum | cut -c1-16)"

current="$(podman image inspect --format '{{ index .Labels "ha_lamp.recipe" }}' "$image" 2>/dev/null || true)"
if [[ "$current" == "$recipe_hash" ]]; then
  echo "image $image is up to date (recipe $recipe_hash)"
  exit 0
fi

workdir="$(mktemp -d /var/tmp/ha-lamp-rootfs.XXXXXX)"
trap 'rm -rf "$workdir"' EXIT
echo "building $image from $mirror (recipe $recipe_hash) ..."
debootstrap --variant=minbase --include="$packages" "$release" "$workdir/rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 \
  || { tail -n 30 "$workdir/debootstrap.log" >&2; echo "debootstrap of $release failed (log above)" >&2; exit 1; }

rootfs="$workdir/rootfs"
# Units that make no sense in a container and slow down or break boot.
for unit in systemd-remount-fs.service systemd-udevd.service systemd-udev-trigger.service \
            getty@tty1.service console-getty.service systemd-timesyncd.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo "ha-lamp-$release" > "$rootfs/etc/hostname"
# On this cgroup-v1 hybrid host, systemd inside a container never hears that a unit's cgroup became
# empty, so after a kill -9 it waits the whole stop timeout (90 s) before it restarts the service.
# A real host (cgroup v2) restarts at once; a short timeout keeps the lab's drills close to that.
mkdir -p "$rootfs/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultTimeoutStopSec=5s\n' > "$rootfs/etc/systemd/system.conf.d/90-ha-lamp-lab.conf"
# Every container gets its own SSH host keys at first boot, not a copy of the image's.
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat > "$rootfs/etc/systemd/system/ha-lamp-lab-ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate this lab container's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
RequiredBy=ssh.service
UNIT
mkdir -p "$rootfs/etc/systemd/system/ssh.service.requires"
ln -sf ../ha-lamp-lab-ssh-hostkeys.service "$rootfs/etc/systemd/system/ssh.service.requires/"
# Keep apt lean: no recommends, and never ask.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/90ha-lamp"
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*

tar -C "$rootfs" -c . | podman import \
  --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL ha_lamp.recipe=$recipe_hash" - "$image" >/dev/null
echo "built $image"
