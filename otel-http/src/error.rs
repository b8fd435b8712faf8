//! `error.type` of a request that failed: read from the error value, not its type's name.
//!
//! A tower service's error type is generic, so the value arrives as `&dyn Any`. The error types a
//! tower HTTP stack returns (boxed errors, `io::Error`, hyper's and hyper-util's, tower's timeout)
//! are recognised here; [`otel_core::error_type_with`] walks the source chain with [`classify`]
//! and reads `io::Error`s by kind. Anything else is `_OTHER`.

use std::any::Any;
use std::error::Error;

/// The error behind `error`, when its type is one that tower HTTP stacks return.
pub fn as_error(error: &dyn Any) -> Option<&(dyn Error + 'static)> {
    if let Some(error) = otel_core::std_error(error) {
        return Some(error);
    }
    if let Some(error) = error.downcast_ref::<http::Error>() {
        return Some(error);
    }
    #[cfg(feature = "hyper")]
    {
        if let Some(error) = error.downcast_ref::<hyper::Error>() {
            return Some(error);
        }
        if let Some(error) = error.downcast_ref::<hyper_util::client::legacy::Error>() {
            return Some(error);
        }
        if let Some(error) = error.downcast_ref::<h2::Error>() {
            return Some(error);
        }
    }
    #[cfg(feature = "tower")]
    if let Some(error) = error.downcast_ref::<tower::timeout::error::Elapsed>() {
        return Some(error);
    }
    None
}

/// HTTP's classifier for one error of a source chain: tower's timeout, hyper's error kinds,
/// hyper-util's connect errors (by the I/O error beneath, else `connect_error`), HTTP/2 reset
/// reasons. `None` lets the walk go on to the error's source.
pub fn classify(error: &(dyn Error + 'static)) -> Option<&'static str> {
    #[cfg(feature = "tower")]
    if error.is::<tower::timeout::error::Elapsed>() {
        return Some("timeout");
    }
    #[cfg(feature = "hyper")]
    {
        if let Some(error) = error.downcast_ref::<hyper_util::client::legacy::Error>() {
            if error.is_connect() {
                let beneath = error.source().map_or(otel_core::OTHER, |cause| {
                    otel_core::error_type_with(cause, classify)
                });
                return Some(if beneath == otel_core::OTHER {
                    "connect_error"
                } else {
                    beneath
                });
            }
            return None;
        }
        if let Some(error) = error.downcast_ref::<hyper::Error>() {
            return hyper_error_type(error);
        }
        if let Some(error) = error.downcast_ref::<h2::Error>() {
            return Some(h2_error_type(error));
        }
    }
    let _ = error;
    None
}

/// hyper's own error kinds; `None` for the rest, whose cause (an I/O or HTTP/2 error) says more.
#[cfg(feature = "hyper")]
fn hyper_error_type(error: &hyper::Error) -> Option<&'static str> {
    Some(if error.is_timeout() {
        "timeout"
    } else if error.is_canceled() {
        "canceled"
    } else if error.is_incomplete_message() {
        "incomplete_message"
    } else if error.is_body_write_aborted() {
        "body_write_aborted"
    } else if error.is_parse() || error.is_parse_status() {
        "parse_error"
    } else if error.is_closed() {
        "connection_closed"
    } else {
        return None;
    })
}

/// An HTTP/2 error: its reason code's name (RFC 9113, section 7) in lower case, or the kind of
/// its I/O error.
#[cfg(feature = "hyper")]
pub fn h2_error_type(error: &h2::Error) -> &'static str {
    use h2::Reason;
    match error.reason() {
        Some(Reason::NO_ERROR) => "no_error",
        Some(Reason::PROTOCOL_ERROR) => "protocol_error",
        Some(Reason::INTERNAL_ERROR) => "internal_error",
        Some(Reason::FLOW_CONTROL_ERROR) => "flow_control_error",
        Some(Reason::SETTINGS_TIMEOUT) => "settings_timeout",
        Some(Reason::STREAM_CLOSED) => "stream_closed",
        Some(Reason::FRAME_SIZE_ERROR) => "frame_size_error",
        Some(Reason::REFUSED_STREAM) => "refused_stream",
        Some(Reason::CANCEL) => "cancel",
        Some(Reason::COMPRESSION_ERROR) => "compression_error",
        Some(Reason::CONNECT_ERROR) => "connect_error",
        Some(Reason::ENHANCE_YOUR_CALM) => "enhance_your_calm",
        Some(Reason::INADEQUATE_SECURITY) => "inadequate_security",
        Some(Reason::HTTP_1_1_REQUIRED) => "http_1_1_required",
        Some(_) => otel_core::OTHER,
        None => error
            .get_io()
            .map_or(otel_core::OTHER, |io| otel_core::io_error_type(io.kind())),
    }
}

/// The `error.type` of a failure whose error value is `error`: short, stable, low-cardinality.
pub fn error_type(error: &dyn Any) -> &'static str {
    as_error(error).map_or(otel_core::OTHER, |error| {
        otel_core::error_type_with(error, classify)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    type BoxError = Box<dyn Error + Send + Sync>;

    #[test]
    fn io_errors_by_kind_boxed_or_not() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(error_type(&refused), "connection_refused");
        let boxed: BoxError = Box::new(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(error_type(&boxed), "connection_reset");
        let boxed: BoxError = Box::new(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(error_type(&boxed), "timeout");
    }

    #[test]
    fn unknown_errors_and_types_are_other() {
        let boxed: BoxError = Box::new(std::fmt::Error);
        assert_eq!(error_type(&boxed), "_OTHER");
        assert_eq!(error_type(&"a string"), "_OTHER");
        assert_eq!(error_type(&42u8), "_OTHER");
    }

    #[cfg(feature = "tower")]
    #[test]
    fn tower_timeouts() {
        let elapsed = tower::timeout::error::Elapsed::new();
        assert_eq!(error_type(&elapsed), "timeout");
        let boxed: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        assert_eq!(error_type(&boxed), "timeout");
    }

    #[cfg(feature = "hyper")]
    #[test]
    fn http2_reasons() {
        for (reason, expected) in [
            (h2::Reason::CANCEL, "cancel"),
            (h2::Reason::REFUSED_STREAM, "refused_stream"),
            (h2::Reason::PROTOCOL_ERROR, "protocol_error"),
            (h2::Reason::ENHANCE_YOUR_CALM, "enhance_your_calm"),
            (h2::Reason::from(0x99), "_OTHER"),
        ] {
            let boxed: BoxError = Box::new(h2::Error::from(reason));
            assert_eq!(error_type(&boxed), expected, "{reason:?}");
            assert_eq!(error_type(&h2::Error::from(reason)), expected);
        }
    }
}
