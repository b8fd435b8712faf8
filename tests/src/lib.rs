//! Workspace-level integration tests; see `tests/`. The library holds the code generated from
//! `proto/echo.proto`, shared by the gRPC tests.

/// The `test.echo` protobuf package: messages, the `Echo` server trait and client.
#[allow(missing_docs, clippy::all)]
pub mod echo {
    tonic::include_proto!("test.echo");
}
