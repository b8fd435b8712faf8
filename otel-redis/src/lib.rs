//! OpenTelemetry for redis-rs: traced connections.
//!
//! Not built yet; this crate reserves its place in the workspace.
//!
//! ```
//! use otel_redis::propagation::Propagators;
//! assert!(!Propagators::default().is_none());
//! ```

pub use otel_propagation as propagation;
