#!/usr/bin/env bash
# Install Debian's docker engine + debootstrap + docker-compose and start dockerd if none answers.
# Idempotent; run as root. CI calls it before the docker tests.
set -euo pipefail

log_dir="${ESB_DOCKERD_LOG_DIR:-/tmp}"

if [ "$(id -u)" -ne 0 ]; then
  echo "docker-setup: must run as root" >&2
  exit 1
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
if [ "${#need[@]}" -gt 0 ]; then
  echo "docker-setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "docker-setup: starting dockerd (log: ${log_dir}/dockerd.log)"
  nohup dockerd >"${log_dir}/dockerd.log" 2>&1 &
  echo $! >"${log_dir}/dockerd.pid"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "docker-setup: dockerd did not answer within 60 s; last log lines:" >&2
    tail -n 20 "${log_dir}/dockerd.log" >&2 || true
    exit 1
  fi
fi

docker version --format 'docker client {{.Client.Version}}, server {{.Server.Version}}'
debootstrap --version
docker-compose version --short
