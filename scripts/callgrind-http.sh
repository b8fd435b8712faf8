#!/usr/bin/env bash
# Instructions per HTTP request through axum: see callgrind-server.sh.
exec "$(dirname "$0")/callgrind-server.sh" http "$@"
