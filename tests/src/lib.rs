//! Workspace-level integration tests; see `tests/`. The library holds what the test suites share:
//! the code generated from `proto/echo.proto`, the telemetry fixture,
//! child server processes, and an OTLP receiver.

pub mod echo_service;
pub mod otlp;
pub mod process;
pub mod telemetry;

/// The `test.echo` protobuf package: messages, the `Echo` server trait and client.
#[allow(missing_docs, clippy::all)]
pub mod echo {
    tonic::include_proto!("test.echo");
}
