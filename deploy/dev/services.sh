#!/usr/bin/env bash
# Make sure PostgreSQL (5432), Redis (6379) and RabbitMQ (5672) answer on loopback;
# install (Debian) and start any that does not. Used by `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
answers() { timeout 2 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }
wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do answers "$port" && return 0; sleep 1; done
  echo "$name did not come up on port $port" >&2; return 1
}
if ! answers 5432 || ! answers 6379 || ! answers 5672; then
  "$here/system-deps.sh" --services
fi
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
if ! answers 5432; then
  echo "starting PostgreSQL" >&2
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  wait_for 5432 PostgreSQL
fi
if ! answers 6379; then
  echo "starting Redis" >&2
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 6379 Redis
fi
if ! answers 5672; then
  echo "starting RabbitMQ" >&2
  $SUDO rabbitmq-server -detached || true
  wait_for 5672 RabbitMQ
fi
# The tests connect as postgres with trust auth on 127.0.0.1 and create their own database.
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1" >/dev/null 2>&1; then
  echo "PostgreSQL answers but does not let user postgres in over 127.0.0.1 (trust auth)" >&2
  exit 1
fi
echo "services: PostgreSQL, Redis, RabbitMQ answer" >&2
