#!/usr/bin/env bash
# ctest's entry to the HA scenarios in network namespaces (test ha_failover_netns):
#   run_netns.sh LBD LBCTL PROBE [SCENARIO...]
# Exits 77 (skipped) without root or network namespaces. LBD_HA_SCENARIOS="a b c"
# runs a subset; LBD_HA_KEEP_LOGS=DIR keeps the nodes' logs and configs.
set -uo pipefail
if (($# < 3)); then
    echo "usage: run_netns.sh LBD LBCTL PROBE [SCENARIO...]" >&2
    exit 2
fi
lbd=$1 lbctl=$2 probe=$3
shift 3
exec bash "$(dirname "${BASH_SOURCE[0]}")/scenarios.sh" --topology netns --lbd "$lbd" --lbctl "$lbctl" --probe "$probe" "$@"
