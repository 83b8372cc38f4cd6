# Sourced by bench scripts (from the repository's root).
# remove_cgroup_parent NAME: removes the cgroup NAME a berthd made for
# `--cgroup-parent NAME`, in every hierarchy. berthd makes it under its own
# cgroup there, which is not the root in every hierarchy (here the memory
# one is nested), so it is looked for at any depth. Only empty ones go:
# call it once berthd has removed its containers. The memory cgroups a
# berthd keeps for reuse (.berth-pool-*) go first: it removes them at a
# clean exit, but not when killed.
remove_cgroup_parent() {
  find /sys/fs/cgroup -maxdepth 9 -type d -path "*/$1/.berth-pool-*" -exec rmdir {} + 2>/dev/null || true
  find /sys/fs/cgroup -maxdepth 8 -type d -name "$1" -exec rmdir {} + 2>/dev/null || true
}
