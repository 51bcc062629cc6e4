# shellcheck shell=bash
# Sourced by tests/run-all.sh (and, for their podman options, by the steps beside the lab that run containers): a
# CPU cgroup that gets only the CPU time nobody else wants, for the suite's steps that need no lab while the lab runs.
#
# Why a cgroup and not `nice`: nice orders the processes of one cgroup, and every lab container runs in a cgroup
# of its own, so niced steps still took an equal share from the lab (measured: docs/performance.md). A cgroup
# with cpu.idle=1 is scheduled as SCHED_IDLE against its siblings, the lab containers' parent included; on a
# kernel without cpu.idle (before 5.15) the smallest weight stands in for it.
#
#   idle_cgroup_make      makes the cgroup (or finds it made); returns 1 when this host offers no way to make one
#                         (no cgroup CPU controller, not root)
#   idle_cgroup_enter     moves the calling shell, and so everything it starts from then on, into it; containers
#                         are not children of their caller's cgroup: podman takes `--cgroup-parent=/$idle_cgroup_name`
#   idle_cgroup_remove    removes the cgroup once nothing runs in it (no-op otherwise)

idle_cgroup_name=ha-lamp-idle

# The cgroup's directory in the CPU controller's hierarchy: cgroup v1 (a cpu hierarchy of its own) or v2.
idle_cgroup_dir() {
  if [[ -f /sys/fs/cgroup/cpu/cpu.shares ]]; then
    echo "/sys/fs/cgroup/cpu/$idle_cgroup_name"
  elif [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
    echo "/sys/fs/cgroup/$idle_cgroup_name"
  else
    return 1
  fi
}

idle_cgroup_make() {
  local dir
  dir="$(idle_cgroup_dir)" || return 1
  if [[ $dir == "/sys/fs/cgroup/$idle_cgroup_name" ]]; then
    # cgroup v2: the root hands the cpu controller to its children only when asked to.
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
      echo +cpu 2>/dev/null > /sys/fs/cgroup/cgroup.subtree_control || return 1
  fi
  mkdir -p "$dir" 2>/dev/null || return 1
  if [[ -f "$dir/cpu.idle" ]]; then
    echo 1 2>/dev/null > "$dir/cpu.idle"
  elif [[ -f "$dir/cpu.shares" ]]; then
    echo 2 2>/dev/null > "$dir/cpu.shares"
  else
    echo 1 2>/dev/null > "$dir/cpu.weight"
  fi
}

idle_cgroup_enter() {
  local dir
  dir="$(idle_cgroup_dir)" || return 1
  echo "$BASHPID" 2>/dev/null > "$dir/cgroup.procs"
}

idle_cgroup_remove() {
  local dir
  # Podman makes the parent in every v1 hierarchy (memory, pids, ...) for its containers, and leaves their
  # empty cgroups under it: deepest first, and only what is empty (rmdir refuses the rest).
  for dir in /sys/fs/cgroup/*/"$idle_cgroup_name" /sys/fs/cgroup/"$idle_cgroup_name"; do
    [[ -d "$dir" ]] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

# The podman options for a step that runs in the cgroup: tests/run-all.sh names its path for the steps beside the lab
# in HA_LAMP_PODMAN_CGROUP_PARENT (empty otherwise: no option). `podman run` takes it as the parent of the container's
# own cgroup; `podman build` makes it the cgroup of each RUN step itself, which must then be a leaf.
# shellcheck disable=SC2034  # for the scripts that source this file
podman_run_cgroup=(${HA_LAMP_PODMAN_CGROUP_PARENT:+"--cgroup-parent=$HA_LAMP_PODMAN_CGROUP_PARENT"})
# shellcheck disable=SC2034  # for the scripts that source this file
podman_build_cgroup=(${HA_LAMP_PODMAN_CGROUP_PARENT:+"--cgroup-parent=$HA_LAMP_PODMAN_CGROUP_PARENT/build"})
