# Sourced by bench scripts. memcg_units: kmalloc-1k objects a new memory
# cgroup takes, averaged over 32 made under this shell's own (v1) memory
# cgroup and removed: one 1 KiB unit per 64 shrinker ids up to the highest
# ever used (bench/RESULTS.md, "superblocks"), plus a small constant. So
# units x 64 is about the highest shrinker id the kernel has given out.
memcg_units() {
  local base k=32 a b i
  base=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)/probe-$$
  mkdir "$base"
  a=$(awk '$1 == "kmalloc-1k" { print $2 }' /proc/slabinfo)
  for i in $(seq $k); do mkdir "$base/p$i"; done
  b=$(awk '$1 == "kmalloc-1k" { print $2 }' /proc/slabinfo)
  for i in $(seq $k); do rmdir "$base/p$i"; done
  rmdir "$base"
  echo $(( (b - a) / k ))
}
