//! `error.type` from an error value: short, stable, low-cardinality.
//!
//! The semantic conventions ask for a value that names the class of error, stays the same across
//! builds and compilers, and takes few distinct values. A type name fails all three (every boxed
//! error reads `alloc::boxed::Box<dyn core::error::Error …>`), so the value is read from the error
//! itself: each error in its `source()` chain is offered to a protocol's own classifier, then
//! checked for an `io::Error`; the first match wins, else `_OTHER`.

use std::error::Error;
use std::io;

use crate::OTHER;

/// `error.type` of `error`, from its `source()` chain: an `io::Error` anywhere in it gives its
/// kind (see [`io_error_type`]); else `_OTHER`.
///
/// ```
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(otel_core::error_type(&refused), "connection_refused");
/// assert_eq!(otel_core::error_type(&std::fmt::Error), "_OTHER");
/// ```
pub fn error_type(error: &(dyn Error + 'static)) -> &'static str {
    error_type_with(error, |_| None)
}

/// The error behind `error` when it is one of the error types every instrumented library's
/// callers return: a boxed error (`Send + Sync`, `Send`, or neither) or an `io::Error`. A generic
/// service's or handler's error arrives as `&dyn Any`; each instrumentation adds its library's
/// own types.
///
/// ```
/// let boxed: Box<dyn std::error::Error + Send + Sync> = "gone".into();
/// assert_eq!(otel_core::std_error(&boxed).unwrap().to_string(), "gone");
/// assert!(otel_core::std_error(&42_u8).is_none());
/// ```
pub fn std_error(error: &dyn std::any::Any) -> Option<&(dyn Error + 'static)> {
    if let Some(error) = error.downcast_ref::<Box<dyn Error + Send + Sync>>() {
        return Some(&**error);
    }
    if let Some(error) = error.downcast_ref::<Box<dyn Error + Send>>() {
        return Some(&**error);
    }
    if let Some(error) = error.downcast_ref::<Box<dyn Error>>() {
        return Some(&**error);
    }
    error
        .downcast_ref::<io::Error>()
        .map(|error| error as &(dyn Error + 'static))
}

/// [`error_type`] with a protocol's own classifier tried first on each error of the chain (a
/// timeout type, a client library's error with its own codes).
pub fn error_type_with(
    error: &(dyn Error + 'static),
    classify: impl Fn(&(dyn Error + 'static)) -> Option<&'static str>,
) -> &'static str {
    let mut next = Some(error);
    // A bound on the walk: a source chain may be long (or, built badly, a cycle).
    for _ in 0..32 {
        let Some(error) = next else { break };
        if let Some(value) = classify(error) {
            return value;
        }
        if let Some(io) = error.downcast_ref::<io::Error>() {
            // An io::Error may wrap the real cause (a TLS error, say): prefer a named kind.
            if io.kind() != io::ErrorKind::Other {
                return io_error_type(io.kind());
            }
        }
        next = error.source();
    }
    OTHER
}

/// The `error.type` of an I/O error kind: the kind's name in snake case, for the kinds a network
/// client meets; `_OTHER` for the rest.
pub fn io_error_type(kind: io::ErrorKind) -> &'static str {
    use io::ErrorKind::*;
    match kind {
        ConnectionRefused => "connection_refused",
        ConnectionReset => "connection_reset",
        ConnectionAborted => "connection_aborted",
        NotConnected => "not_connected",
        AddrInUse => "addr_in_use",
        AddrNotAvailable => "addr_not_available",
        BrokenPipe => "broken_pipe",
        TimedOut => "timeout",
        UnexpectedEof => "unexpected_eof",
        InvalidData => "invalid_data",
        InvalidInput => "invalid_input",
        PermissionDenied => "permission_denied",
        NotFound => "not_found",
        Interrupted => "interrupted",
        WouldBlock => "would_block",
        HostUnreachable => "host_unreachable",
        NetworkUnreachable => "network_unreachable",
        NetworkDown => "network_down",
        _ => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct Wrapper(Box<dyn Error + Send + Sync>);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapper")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[derive(Debug)]
    struct Timeout;
    impl fmt::Display for Timeout {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("timed out")
        }
    }
    impl Error for Timeout {}

    #[test]
    fn io_errors_deep_in_the_chain_give_their_kind() {
        let error = Wrapper(Box::new(Wrapper(Box::new(io::Error::from(
            io::ErrorKind::ConnectionReset,
        )))));
        assert_eq!(error_type(&error), "connection_reset");
    }

    #[test]
    fn an_io_error_of_kind_other_lets_its_cause_speak() {
        let error = io::Error::other(Wrapper(Box::new(Timeout)));
        let classify = |e: &(dyn Error + 'static)| e.is::<Timeout>().then_some("timeout");
        assert_eq!(error_type_with(&error, classify), "timeout");
        assert_eq!(error_type(&error), OTHER);
    }

    #[test]
    fn the_classifier_wins_over_io_kinds_and_unknown_errors_are_other() {
        let classify = |e: &(dyn Error + 'static)| e.is::<Timeout>().then_some("timeout");
        assert_eq!(
            error_type_with(&Wrapper(Box::new(Timeout)), classify),
            "timeout"
        );
        assert_eq!(error_type_with(&fmt::Error, classify), OTHER);
        assert_eq!(io_error_type(io::ErrorKind::OutOfMemory), OTHER);
    }
}
