//! The end-to-end demo: a code-judge platform in miniature, traced by this suite.
//!
//! A client submits code to the `gateway` (axum) over HTTP; the gateway checks a Redis cache and
//! calls `code-manage` (tonic) over gRPC; code-manage produces a job to the Kafka topic
//! `code-execution`; the `code-execution` worker consumes it, "runs" the code and produces the
//! verdict to `code-result`; code-manage consumes the verdict and answers the gRPC call; the gateway
//! answers the HTTP request. Every hop is traced, and it is all one trace.
//!
//! This library holds what the demo's processes share: the generated gRPC code, the OTLP receiver
//! the demo collects spans with, and the waterfall it draws them as.
//!
//! ```
//! use code_judge::waterfall::{Span, render};
//!
//! let root = Span::test("gateway", "POST /api/v1/submit", 1, 0, 0, 10_000_000);
//! let child = Span::test("code-manage", "judge.v1.CodeManage/Submit", 2, 1, 1_000_000, 9_000_000);
//! let text = render(&[root, child], 40);
//! assert!(text.contains("judge.v1.CodeManage/Submit"));
//! ```

pub mod config;
pub mod demo;
pub mod infra;
pub mod kafka;
pub mod receiver;
pub mod service;
pub mod waterfall;

/// The `judge.v1` protobuf package: messages, the `CodeManage` server trait and client.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("judge.v1");
}
