//! What the `otel-*` instrumentation crates share beneath their carriers, written once.
//!
//! `otel-http`, `otel-grpc`, `otel-kafka` and `otel-redis` each add a carrier (HTTP headers, Kafka
//! record headers, Redis fields) and the semantic conventions of their protocol. What they have in
//! common lives here, so that a Kafka or Redis user compiles no HTTP stack:
//!
//! - [`Providers`]: the tracer and meter a crate records with, from a provider handed in or the
//!   global one, under the crate's [`InstrumentationScope`](opentelemetry::InstrumentationScope).
//! - [`Propagation`]: the global text map propagator or an explicit [`Propagators`] set.
//! - [`start_span`]: a span start that builds names and attributes only when they can be recorded.
//! - [`error_type`]: `error.type` from an error value: short, stable, low-cardinality.
//! - [`bounded`]: a caller-controlled value kept only when it is one of a known set, else `_OTHER`.
//! - [`messaging`]: the consumer span's parent and links, the PRODUCER `send` / CONSUMER `process`
//!   span with its metrics (`MessagingSpan`), the messaging metric instruments.
//!
//! ```
//! use opentelemetry::trace::{SpanKind, TraceContextExt};
//! use opentelemetry::{Context, KeyValue};
//! use otel_core::{Propagation, Providers, start_span};
//!
//! let providers = Providers::new(otel_core::scope("my-instrumentation", "0.1.0"));
//! let propagation = Propagation::global();
//!
//! // An incoming message's headers, read through any `Extractor`.
//! let headers = std::collections::HashMap::from([(
//!     "traceparent".to_string(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
//! )]);
//! # opentelemetry::global::set_text_map_propagator(otel_propagation::Propagators::default());
//! let parent = propagation.extract(&Context::new(), &headers);
//! let (span, _recorded) = start_span(
//!     providers.tracer(),
//!     SpanKind::Consumer,
//!     &parent,
//!     Vec::new(),
//!     || "process orders".into(),
//!     || vec![KeyValue::new("messaging.system", "kafka")],
//! );
//! # drop(span);
//! assert!(parent.span().span_context().is_remote());
//! ```

mod bounded;
mod error_type;
pub mod messaging;
mod propagation;
mod providers;
mod span;

pub use bounded::{OTHER, bounded};
pub use error_type::{error_type, error_type_with, io_error_type, std_error};
pub use otel_propagation::Propagators;
pub use propagation::Propagation;
pub use providers::{Providers, scope};
pub use span::start_span;
