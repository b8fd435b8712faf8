#!/usr/bin/env bash
# Instructions per unary gRPC call through tonic: see callgrind-server.sh.
exec "$(dirname "$0")/callgrind-server.sh" grpc "$@"
