//! Spec-exact OpenTelemetry propagators, the shared base of the `otel-*` instrumentation crates.
//!
//! - [`TraceContextPropagator`]: W3C Trace Context Level 2 (`traceparent`, `tracestate`). What the
//!   stock SDK's span contexts drop between extraction and injection (the random flag of an
//!   unsampled trace, Level 2 `tracestate` keys) travels in the `Context` and goes out again;
//!   [`TraceStateList::from_context`] reads a context's whole `tracestate`.
//! - [`BaggagePropagator`]: W3C Baggage (`baggage`).
//! - [`B3Propagator`]: B3, single (`b3`) or multi (`X-B3-*`) header.
//! - [`Propagators`]: an ordered set of them, built in code or from `OTEL_PROPAGATORS`.
//! - [`HeaderExtractor`] / [`HeaderInjector`]: carriers over `http::HeaderMap` that see every value
//!   of a repeated header (feature `http`, on by default).
//!
//! Each implements [`opentelemetry::propagation::TextMapPropagator`], so it drops into any
//! OpenTelemetry code. Malformed input never panics: it yields no context, or drops exactly the
//! invalid part where the spec says so, in time linear in its length.
//!
//! ```
//! use http::HeaderMap;
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::TraceContextExt;
//! use otel_propagation::{HeaderExtractor, HeaderInjector, Propagators};
//!
//! // Once, at start-up: what OTEL_PROPAGATORS says (default `tracecontext,baggage`), installed as
//! // the global propagator. `Propagators::parse` takes the same list from anywhere else.
//! let propagators = otel_propagation::install_global_from_env();
//!
//! // Per request: extract the caller's context from the incoming headers ...
//! let mut incoming = HeaderMap::new();
//! incoming.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?);
//! let cx = propagators.extract(&HeaderExtractor(&incoming));
//! assert_eq!(
//!     cx.span().span_context().trace_id().to_string(),
//!     "4bf92f3577b34da6a3ce929d0e0e4736"
//! );
//!
//! // ... and inject it into an outgoing request.
//! let mut outgoing = HeaderMap::new();
//! propagators.inject_context(&cx, &mut HeaderInjector(&mut outgoing));
//! # if std::env::var_os("OTEL_PROPAGATORS").is_none() {
//! assert_eq!(outgoing["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod b3;
pub mod baggage;
mod carrier;
mod composite;
mod env;
#[cfg(feature = "http")]
mod header_map;
mod hex;
pub mod trace_context;
pub mod tracestate;

pub use b3::{B3Encoding, B3Propagator};
pub use baggage::BaggagePropagator;
pub use composite::{PropagatorKind, Propagators, PropagatorsBuilder};
pub use env::{OTEL_PROPAGATORS, PropagatorsWarning, install_global_from_env};
#[cfg(feature = "http")]
pub use header_map::{HeaderExtractor, HeaderInjector};
pub use trace_context::TraceContextPropagator;
pub use tracestate::TraceStateList;
