#!/usr/bin/env bash
# gRPC loopback load test (h2load): see load-server.sh.
exec "$(dirname "$0")/load-server.sh" grpc "$@"
