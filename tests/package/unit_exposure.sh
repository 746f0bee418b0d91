#!/usr/bin/env bash
# The shipped unit's exposure score (systemd-analyze security, offline: no
# running systemd needed) must stay at most 2.5. Usage: unit_exposure.sh UNIT
set -euo pipefail
unit="$1"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze is not installed"; exit 0
fi
report="$(systemd-analyze security --offline=true "$unit" 2>&1)" || true
score="$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$report")"
if [ -z "$score" ]; then
  echo "$report"; echo "FAIL: no exposure score for $unit"; exit 1
fi
echo "exposure score of $(basename "$unit"): $score (limit 2.5)"
# --threshold is on systemd's 0..100 scale and exits 1 above it.
if ! systemd-analyze security --offline=true --threshold=25 "$unit" >/dev/null 2>&1; then
  grep '✗' <<<"$report" || true
  echo "FAIL: exposure $score is above 2.5"; exit 1
fi
