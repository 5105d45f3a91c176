#!/bin/sh
# The image's entrypoint (under tini): make the container's cgroup usable for the workers'
# cgroups, then run the command (`fngate serve`).
#
# A container with its own cgroup namespace (the default of Docker and containerd on cgroup
# v2) sees its own cgroup as /sys/fs/cgroup, with the gateway in it. cgroup v2 hands the
# memory, pids and cpu controllers down to child cgroups only from a cgroup that has no
# process of its own, so the gateway could not make the per-worker cgroups that limit a
# function's memory, processes and CPU (it would fall back to an RSS watchdog without CPU
# quotas, and say so on /health). This moves every process of the container into a leaf
# cgroup, `init`, first, as Docker's own docker-in-docker image does; the gateway then
# enables the controllers and makes `fngate/<worker>` cgroups beside it.
#
# It needs /sys/fs/cgroup writable (a privileged container). Elsewhere it changes nothing
# and says why. The gateway's default worker cap reads `init`'s memory.max, which has no
# limit: set FNGATE_MAX_WORKERS to what the container's memory allows (deploy/README.md).
set -eu
cg=/sys/fs/cgroup
if [ "$(id -u)" = 0 ] && [ -f "$cg/cgroup.controllers" ] \
   && [ "$(cat /proc/self/cgroup)" = "0::/" ]; then
  if mkdir -p "$cg/init" 2>/dev/null; then
    # One pid per write, as cgroup.procs wants; a process that exited meanwhile is skipped.
    xargs -rn1 < "$cg/cgroup.procs" > "$cg/init/cgroup.procs" 2>/dev/null || :
  else
    echo "fngate-entrypoint: $cg is read-only: workers get no cgroups (memory by an RSS" \
         "watchdog, no CPU quota); run the container privileged (deploy/README.md)" >&2
  fi
fi
exec "$@"
