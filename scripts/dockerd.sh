#!/usr/bin/env bash
# Start a Docker engine for the tests when none answers: `dockerd
# --iptables=false --bridge=none` (containers use --network none, so no
# bridge or firewall rules are needed, and none are touched). Waits until
# `docker info` answers. Idempotent; exits 0 without Docker installed (the
# tests that need it then skip, or fail under CI=true).
set -euo pipefail
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || { echo "dockerd: not installed" >&2; exit 0; }
PATH="$PATH:/usr/sbin"
docker info >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "dockerd: not running, and starting it needs root (start the docker service)" >&2
  exit 0
fi
LOG="${SMOLKERNEL_DOCKERD_LOG:-/var/log/smolkernel-dockerd.log}"
nohup dockerd --iptables=false --ip6tables=false --bridge=none >>"$LOG" 2>&1 &
for _ in $(seq 1 120); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.25
done
echo "dockerd: did not answer within 30 s; see $LOG" >&2
tail -n 20 "$LOG" >&2
exit 1
