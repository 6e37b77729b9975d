#!/usr/bin/env bash
# Redis for openfal: install redis-server if missing (CI), and start one by hand.
#
#   scripts/redis.sh install   install redis-server with apt-get when it is not on PATH
#   scripts/redis.sh [start]   install if needed, then run a durable server in the
#                              foreground (Ctrl-C stops it); point openfal at it with
#                              --store redis://127.0.0.1:$REDIS_PORT/0
#
# Environment: REDIS_PORT (6379), REDIS_DIR (.openfal/redis: the append-only file).
# The test suite starts its own servers (tests/store/redis_server.py); it only needs
# redis-server installed.
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
  if command -v redis-server >/dev/null 2>&1; then
    return
  fi
  echo "== installing redis-server" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  command -v redis-server >/dev/null 2>&1 || { echo "redis-server still missing" >&2; exit 1; }
}

case "${1:-start}" in
  install)
    install
    redis-server --version
    ;;
  start)
    install
    port="${REDIS_PORT:-6379}"
    dir="${REDIS_DIR:-.openfal/redis}"
    mkdir -p "$dir"
    echo "== redis-server on redis://127.0.0.1:$port/0 (data in $dir)" >&2
    exec redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
      --appendonly yes --appendfsync everysec --save ''
    ;;
  *)
    echo "usage: $0 [install|start]" >&2
    exit 2
    ;;
esac
