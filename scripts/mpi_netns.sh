#!/usr/bin/env bash
# `heatvit dse` across two hosts simulated on this machine: two network namespaces
# joined by a bridge, each a "host" with its own network stack and address. mpirun
# starts its daemon on each through an rsh agent that enters the namespace (in place
# of ssh), and the ranks talk TCP across the bridge (Open MPI's tcp BTL; shared memory
# is not possible between hosts). The outputs are compared with a one-process run.
# Needs root (ip netns, ip link); without them it says so and exits 77 (a skipped
# test for CTest). Cleans up after itself.
#   scripts/mpi_netns.sh [HEATVIT] [SPACE] [WORK]
set -euo pipefail
hv=$(realpath "${1:-build/bin/heatvit}")
space=$(realpath "${2:-tests/dse/data/mpi.json}")
work=${3:-/tmp/heatvit-netns}
ns=("hvns-a-$$" "hvns-b-$$")
br="hvbr-$$"
net=10.231.0
if [ "$(id -u)" != 0 ] || ! command -v ip > /dev/null || ! ip netns add "hvns-probe-$$" 2> /dev/null; then
  echo "skipped: network namespaces need root and iproute2"
  exit 77
fi
ip netns del "hvns-probe-$$"
if ! ip link add "$br" type bridge 2> /dev/null; then
  echo "skipped: cannot create a bridge here"
  exit 77
fi
ip link del "$br"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI 4.1's daemon shares its hwloc topology with local ranks through a file
# mapped at the biggest hole of its address space; under `ip netns exec` that hole
# can be the one beneath the stack, and about one daemon start in six segfaulted in
# hwloc_shmem_topology_write. The ranks do not need the shared copy (each reads its
# own topology), so the sharing is turned off.
export OMPI_MCA_rtc_hwloc_vmhole=none
cleanup() {
  for n in "${ns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  ip link del "$br" 2>/dev/null || true
  rm -f "$work.agent" "$work.hosts"
}
trap cleanup EXIT
cleanup
rm -rf "$work"; mkdir -p "$work"

ip link add "$br" type bridge
ip addr add "$net.1/24" dev "$br"
ip link set "$br" up
i=2
for n in "${ns[@]}"; do
  ip netns add "$n"
  ip link add "v-$n" type veth peer name eth0 netns "$n"
  ip link set "v-$n" master "$br" up
  ip -n "$n" addr add "$net.$i/24" dev eth0
  ip -n "$n" link set eth0 up
  ip -n "$n" link set lo up
  i=$((i + 1))
done

# mpirun calls the agent as: AGENT HOST COMMAND...; run COMMAND inside namespace HOST.
cat > "$work.agent" <<'A'
#!/bin/sh
host=$1; shift
exec ip netns exec "$host" /bin/sh -c "$*"
A
chmod +x "$work.agent"
printf '%s slots=1\n' "${ns[@]}" > "$work.hosts"

args=(dse --model deit-micro --hw zcu102-heatvit --space "$space" --threads 1 -q --no-plot)
"$hv" "${args[@]}" --out "$work/one"
for n in "${ns[@]}"; do echo "$n: $(ip -n "$n" -4 -o addr show eth0 | awk '{print $4}')"; done
mpirun -np 2 --hostfile "$work.hosts" --mca plm_rsh_agent "$work.agent" \
  --mca oob_tcp_if_include "$net.0/24" --mca btl tcp,self --mca btl_tcp_if_include "$net.0/24" \
  --mca routed direct \
  sh -c 'echo "rank $OMPI_COMM_WORLD_RANK on $(ip -4 -o addr show eth0 | awk "{print \$4}")" >&2; exec "$@"' sh \
  "$hv" "${args[@]}" --out "$work/two-hosts"
for f in points.csv front.csv front.json winner.json; do
  cmp "$work/one/$f" "$work/two-hosts/$f"
done
echo "two network namespaces: points.csv, front.csv, front.json and winner.json identical to one process"
