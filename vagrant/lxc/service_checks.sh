#!/usr/bin/env bash
# The packaged lbd as systemd runs it on the lab's two lb nodes (lab.sh step
# 5, with the lab up as provisioned), before the HA scenarios:
#   * lbd.service active, not restarted, running /usr/sbin/lbd as user lbd;
#   * Type=notify readiness: systemd's start job finished (it waits for
#     READY=1) and the unit shows lbd's STATUS=serving;
#   * every hardening setting of the unit in force inside the container
#     (the start would fail otherwise), with systemd-analyze's score there;
#   * `systemctl reload lbd` on the VIP holder while a client connects
#     every 10 ms: every connection answered, the same main process, the
#     journal says the new config was applied.
# Uses $LBD_VAGRANT_SSH_CONFIG (lab.sh) or `vagrant ssh-config`. Exit 1 on the first failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tests/ha/lib.sh
source "$here/../../tests/ha/lib.sh"
VIP=192.168.56.10
dir=$(mktemp -d)
trap 'for n in lb-a lb-b client-backends; do on -O exit "$n" 2>/dev/null; done; rm -rf "$dir"' EXIT
if [[ -n ${LBD_VAGRANT_SSH_CONFIG:-} ]]; then
  cp "$LBD_VAGRANT_SSH_CONFIG" "$dir/ssh_config"
else
  (cd "$here/.." && vagrant ssh-config lb-a lb-b client-backends) >"$dir/ssh_config" || exit 1
fi
on() { ssh -F "$dir/ssh_config" -o ControlMaster=auto -o "ControlPath=$dir/%h.ctl" -o ControlPersist=120 -o LogLevel=ERROR "$@"; }
# as_root NODE CMD: CMD (a shell command line) as root on NODE.
as_root() { on -n "$1" "sudo sh -c $(printf '%q' "$2")"; }
failures=0
check() {  # check DESCRIPTION TEST...
  local what=$1
  shift
  if "$@"; then echo "  ok: $what"; else echo "  FAIL: $what"; failures=$((failures + 1)); fi
}
show() { as_root "$1" "systemctl show -p $2 --value lbd"; }

for node in lb-a lb-b; do
  echo "$node:"
  check "lbd.service is active" [ "$(as_root "$node" 'systemctl is-active lbd')" = active ]
  check "Type=notify, and the start job ended (READY=1 arrived)" [ "$(show "$node" Type)" = notify ]
  check "StatusText is lbd's 'serving' (sd_notify reaches systemd)" [ "$(show "$node" StatusText)" = serving ]
  check "not restarted (NRestarts=0)" [ "$(show "$node" NRestarts)" = 0 ]
  pid=$(show "$node" MainPID)
  check "main process runs /usr/sbin/lbd as user lbd" \
    [ "$(as_root "$node" "ps -o user=,comm= -p $pid | tr -s ' '")" = "lbd lbd" ]
  echo "  $(as_root "$node" "grep -E '^Cap(Eff|Bnd):' /proc/$pid/status | tr '\n\t' '  '")"
  check "keepalived.service is active" [ "$(as_root "$node" 'systemctl is-active keepalived')" = active ]
  echo "  $(as_root "$node" 'systemd-analyze security lbd 2>/dev/null | tail -1')"
  as_root "$node" 'journalctl -b -p warning --no-pager -o cat -u lbd 2>/dev/null' | sed 's/^/  journal warning: /' | head -5
done

holder=""
for node in lb-a lb-b; do
  as_root "$node" "ip -4 -o addr show dev eth1 | grep -q ' $VIP/'" && holder=$node
done
[[ -n $holder ]] || { echo "  FAIL: no node holds the VIP $VIP"; exit 1; }
echo "reload on $holder (the VIP holder) under client traffic:"
log=/tmp/lbd-lab-reload.log stopf=/tmp/lbd-lab-reload.stop
as_root client-backends "rm -f $log $stopf"
on -n client-backends "lbd_ha_probe poll $VIP:81 --interval-ms 10 --timeout-ms 1000 --until-file $stopf --log $log" >"$dir/poll.json" &
poller=$!
lines() { as_root client-backends "wc -l <$log 2>/dev/null || echo 0"; }
more_lines() { (($(lines) >= $1)); }
wait_until 10000 more_lines 20 || echo "  FAIL: the client made no 20 connections in 10 s"
pid_before=$(show "$holder" MainPID)
now_ms
t0=$NOW_MS
check "systemctl reload lbd succeeds" as_root "$holder" 'systemctl reload lbd'
now_ms
echo "  reload took $((NOW_MS - t0)) ms (lbd -t, SIGHUP, RELOADING=1 ... READY=1)"
n=$(lines)
wait_until 10000 more_lines $((n + 50)) || echo "  FAIL: the client made no 50 connections in 10 s after the reload"
as_root client-backends "touch $stopf"
wait "$poller"
read -r attempts ok gap < <(on client-backends "lbd_ha_probe json attempts ok max_gap_ms" <"$dir/poll.json" | tr '\n' ' ')
echo "  client: $attempts connections every 10 ms across the reload, $ok answered, longest gap ${gap} ms"
check "every connection answered" [ "${ok:-x}" = "${attempts:-y}" ]
check "the same main process (no restart)" [ "$(show "$holder" MainPID)" = "$pid_before" ]
check "active again and serving after the reload" \
  [ "$(as_root "$holder" 'systemctl is-active lbd')/$(show "$holder" StatusText)" = active/serving ]
check "lbd logged 'reload applied'" as_root "$holder" "journalctl -u lbd --no-pager -o cat | grep -q 'reload applied'"
as_root client-backends "rm -f $log $stopf"
((failures == 0))
