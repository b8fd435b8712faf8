//! OpenTelemetry for rdkafka: header carriers, traced producers and consumers.
//!
//! Not built yet; this crate reserves its place in the workspace. Its carriers will use the
//! shared propagators:
//!
//! ```
//! use otel_kafka::propagation::Propagators;
//! assert!(!Propagators::default().is_none());
//! ```

pub use otel_propagation as propagation;
