//! OpenTelemetry for HTTP services built on tower: server and client layers.
//!
//! The layers are being built (issue 3). Propagation already works through the shared crate,
//! re-exported here:
//!
//! ```
//! use otel_http::propagation::{HeaderExtractor, Propagators};
//! use opentelemetry::propagation::TextMapPropagator;
//!
//! let headers = http::HeaderMap::new();
//! let cx = Propagators::default().extract(&HeaderExtractor(&headers));
//! # let _ = cx;
//! ```

pub use otel_propagation as propagation;
