#!/usr/bin/env bash
# HTTP loopback load test (wrk): see load-server.sh.
exec "$(dirname "$0")/load-server.sh" http "$@"
