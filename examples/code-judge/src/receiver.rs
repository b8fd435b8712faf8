//! The demo's OTLP receiver: what a collector would receive, kept in memory. It is the workspace's
//! shared receiver (`integration_tests::otlp`: OTLP over gRPC and HTTP/protobuf on 127.0.0.1),
//! with the spans read as the waterfall's [`Span`]s.

use std::net::SocketAddr;
use std::sync::Arc;

use integration_tests::otlp::{self, Collected};

use crate::waterfall::Span;

/// What the receiver has received so far; clones share it.
#[derive(Clone, Debug)]
pub struct Received(Arc<Collected>);

impl Received {
    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.0
            .spans()
            .into_iter()
            .map(|(resource, span)| Span::from_otlp(&otlp::service_name(&resource), span))
            .collect()
    }
}

/// A running receiver: its two endpoints and what it received; stopped when dropped.
pub struct Receiver {
    /// OTLP/gRPC, for `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
    pub grpc: SocketAddr,
    /// OTLP/HTTP, for `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`.
    pub http: SocketAddr,
    /// What arrived.
    pub received: Received,
    _running: otlp::Receiver,
}

impl Receiver {
    /// Starts both endpoints on free ports of 127.0.0.1 (served on a runtime of their own).
    pub async fn start() -> std::io::Result<Receiver> {
        let running = otlp::Receiver::try_start()?;
        Ok(Receiver {
            grpc: running.grpc,
            http: running.http,
            received: Received(running.collected.clone()),
            _running: running,
        })
    }
}
