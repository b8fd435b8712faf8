//! OpenTelemetry SDK bootstrap from the standard environment variables.
//!
//! Not built yet; this crate reserves its place in the workspace.
//!
//! ```
//! use otel_init::propagation::Propagators;
//! assert!(!Propagators::default().is_none());
//! ```

pub use otel_propagation as propagation;
