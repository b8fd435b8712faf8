//! gRPC status codes: their canonical names, where a response carries them, and which are errors.

use http::{HeaderMap, HeaderName, StatusCode};

/// A gRPC status code (0 to 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code(pub u8);

impl Code {
    /// `OK`.
    pub const OK: Code = Code(0);
    /// `CANCELLED`.
    pub const CANCELLED: Code = Code(1);
    /// `UNKNOWN`.
    pub const UNKNOWN: Code = Code(2);
    /// `INTERNAL`.
    pub const INTERNAL: Code = Code(13);
    /// `UNIMPLEMENTED`.
    pub const UNIMPLEMENTED: Code = Code(12);
    /// `UNAVAILABLE`.
    pub const UNAVAILABLE: Code = Code(14);

    /// The canonical name, as `rpc.response.status_code` carries it.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 17] = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        NAMES.get(self.0 as usize).copied().unwrap_or("UNKNOWN")
    }

    /// Whether a server span with this status is an error: UNKNOWN, DEADLINE_EXCEEDED,
    /// UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS (the semantic conventions' list). Any
    /// other status is the client's doing.
    pub fn is_server_error(self) -> bool {
        matches!(self.0, 2 | 4 | 12 | 13 | 14 | 15)
    }

    /// Whether a client span with this status is an error: anything but OK.
    pub fn is_client_error(self) -> bool {
        self != Code::OK
    }

    /// The `grpc-status` in `headers` (response headers of a trailers-only response, or
    /// trailers). Read as tonic reads it (`Code::from_bytes`): exactly `0` to `16`; any other
    /// value is UNKNOWN, as the gRPC spec says of unknown codes.
    pub fn from_headers(headers: &HeaderMap) -> Option<Code> {
        // A ready-made name: a `&str` key would be parsed and lower-cased on every lookup.
        const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
        // Trailers and a unary response's headers are a few fields: a scan compares a few
        // names where a lookup hashes one.
        let value = if headers.len() <= 4 {
            headers
                .iter()
                .find_map(|(name, value)| (*name == GRPC_STATUS).then_some(value))
        } else {
            headers.get(GRPC_STATUS)
        };
        let code = match *value?.as_bytes() {
            [d @ b'0'..=b'9'] => d - b'0',
            [b'1', d @ b'0'..=b'6'] => 10 + (d - b'0'),
            _ => 2,
        };
        Some(Code(code))
    }

    /// The status tonic's client reports for a call that failed with `error` (the error of the
    /// channel's service, or of the response body) rather than with a `grpc-status`: tonic's own
    /// mapping (`Status::from_error`), read from the error's source chain: a `Status` as it is,
    /// an expired client timeout CANCELLED, a failed connection UNAVAILABLE, hyper's keep-alive
    /// timeout UNAVAILABLE and cancellation CANCELLED, HTTP/2 resets by their reason, anything
    /// else UNKNOWN. Errors of other types than tonic's, hyper's and boxed ones cannot be looked
    /// into here and read as UNKNOWN; tonic's load-shedding `Overloaded` is not mapped.
    #[cfg(feature = "tonic")]
    pub fn from_client_error(error: &dyn std::any::Any) -> Code {
        use std::error::Error;
        type BoxError = Box<dyn Error + Send + Sync>;
        let top: &(dyn Error + 'static) =
            if let Some(status) = error.downcast_ref::<tonic::Status>() {
                status
            } else if let Some(error) = error.downcast_ref::<tonic::transport::Error>() {
                error
            } else if let Some(error) = error.downcast_ref::<BoxError>() {
                &**error
            } else if let Some(error) = error.downcast_ref::<hyper::Error>() {
                error
            } else {
                return Code::UNKNOWN;
            };
        // tonic reads an HTTP/2 error itself at the top, then walks the chain.
        if let Some(h2) = top.downcast_ref::<h2::Error>() {
            return Code::from_h2(h2);
        }
        let mut source = Some(top);
        while let Some(error) = source {
            if let Some(status) = error.downcast_ref::<tonic::Status>() {
                return Code(u8::try_from(status.code() as i32).unwrap_or(2));
            }
            if error.is::<tonic::TimeoutExpired>() {
                return Code::CANCELLED;
            }
            if error.is::<tonic::ConnectError>() {
                return Code::UNAVAILABLE;
            }
            if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
                // A keep-alive ping that timed out closes every call: UNAVAILABLE.
                if hyper.is_timeout() {
                    return Code::UNAVAILABLE;
                }
                if hyper.is_canceled() {
                    return Code::CANCELLED;
                }
                // An HTTP/2 reset under hyper's error, by its reason.
                if let Some(h2) = hyper.source().and_then(|e| e.downcast_ref::<h2::Error>()) {
                    return Code::from_h2(h2);
                }
            }
            source = error.source();
        }
        Code::UNKNOWN
    }

    /// The code tonic gives an HTTP/2 error, by its reason.
    #[cfg(feature = "tonic")]
    fn from_h2(error: &h2::Error) -> Code {
        use h2::Reason;
        match error.reason() {
            Some(
                Reason::NO_ERROR
                | Reason::PROTOCOL_ERROR
                | Reason::INTERNAL_ERROR
                | Reason::FLOW_CONTROL_ERROR
                | Reason::SETTINGS_TIMEOUT
                | Reason::FRAME_SIZE_ERROR
                | Reason::COMPRESSION_ERROR
                | Reason::CONNECT_ERROR,
            ) => Code::INTERNAL,
            Some(Reason::REFUSED_STREAM) => Code::UNAVAILABLE,
            Some(Reason::CANCEL) => Code::CANCELLED,
            Some(Reason::ENHANCE_YOUR_CALM) => Code(8),
            Some(Reason::INADEQUATE_SECURITY) => Code(7),
            _ => Code::UNKNOWN,
        }
    }

    /// The status a response without `grpc-status` implies from its HTTP status, per the gRPC
    /// HTTP-to-gRPC mapping; `None` for 200, whose status is still to come in the trailers.
    pub fn from_http(status: StatusCode) -> Option<Code> {
        Some(Code(match status.as_u16() {
            200 => return None,
            400 => 13,
            401 => 16,
            403 => 7,
            404 => 12,
            429 | 502 | 503 | 504 => 14,
            _ => 2,
        }))
    }
}

/// The `error.type` of a call that failed with `error` rather than with a status: a tonic
/// `Status` gives its code's name; tonic's client timeout `timeout`; a failed connection the kind
/// of the I/O error beneath (`connection_refused`), else `connect_error`; then what `otel-http`
/// reads from hyper, HTTP/2 and I/O errors; anything else `_OTHER`.
pub fn error_type(error: &dyn std::any::Any) -> &'static str {
    #[cfg(feature = "tonic")]
    let top: Option<&(dyn std::error::Error + 'static)> =
        match error.downcast_ref::<tonic::Status>() {
            Some(status) => Some(status),
            None => error
                .downcast_ref::<tonic::transport::Error>()
                .map(|e| e as &(dyn std::error::Error + 'static)),
        };
    #[cfg(not(feature = "tonic"))]
    let top = None;
    match top.or_else(|| otel_http::error::as_error(error)) {
        Some(error) => otel_core::error_type_with(error, classify),
        None => otel_core::OTHER,
    }
}

/// gRPC's classifier for one error of a source chain, then HTTP's.
fn classify(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    #[cfg(feature = "tonic")]
    {
        if let Some(status) = error.downcast_ref::<tonic::Status>() {
            return Some(Code(u8::try_from(status.code() as i32).unwrap_or(2)).name());
        }
        if error.is::<tonic::TimeoutExpired>() {
            return Some("timeout");
        }
        if error.is::<tonic::ConnectError>() {
            let beneath = error.source().map_or(otel_core::OTHER, |cause| {
                otel_core::error_type_with(cause, classify)
            });
            return Some(if beneath == otel_core::OTHER {
                "connect_error"
            } else {
                beneath
            });
        }
    }
    otel_http::error::classify(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_rules() {
        assert_eq!(Code(4).name(), "DEADLINE_EXCEEDED");
        assert_eq!(Code(16).name(), "UNAUTHENTICATED");
        assert_eq!(Code(99).name(), "UNKNOWN");
        assert!(
            Code(13).is_server_error() && !Code(3).is_server_error() && !Code(5).is_server_error()
        );
        assert!(Code(5).is_client_error() && !Code::OK.is_client_error());
    }

    #[cfg(feature = "tonic")]
    #[test]
    fn client_errors_map_as_tonic_maps_them() {
        type BoxError = Box<dyn std::error::Error + Send + Sync>;
        let status = tonic::Status::deadline_exceeded("late");
        assert_eq!(Code::from_client_error(&status), Code(4));
        let boxed: BoxError = Box::new(tonic::Status::permission_denied("no"));
        assert_eq!(Code::from_client_error(&boxed), Code(7));
        for (reason, code) in [
            (h2::Reason::CANCEL, Code::CANCELLED),
            (h2::Reason::REFUSED_STREAM, Code::UNAVAILABLE),
            (h2::Reason::PROTOCOL_ERROR, Code::INTERNAL),
            (h2::Reason::ENHANCE_YOUR_CALM, Code(8)),
            (h2::Reason::from(0x99), Code::UNKNOWN),
        ] {
            let boxed: BoxError = Box::new(h2::Error::from(reason));
            assert_eq!(Code::from_client_error(&boxed), code, "{reason:?}");
        }
        let boxed: BoxError = Box::new(std::io::Error::other("broken"));
        assert_eq!(Code::from_client_error(&boxed), Code::UNKNOWN);
        assert_eq!(Code::from_client_error(&"not an error"), Code::UNKNOWN);
    }

    #[cfg(feature = "tonic")]
    #[test]
    fn error_types_from_the_error_value() {
        type BoxError = Box<dyn std::error::Error + Send + Sync>;
        assert_eq!(
            error_type(&tonic::Status::deadline_exceeded("late")),
            "DEADLINE_EXCEEDED"
        );
        let boxed: BoxError = Box::new(tonic::Status::permission_denied("no"));
        assert_eq!(error_type(&boxed), "PERMISSION_DENIED");
        let boxed: BoxError = Box::new(h2::Error::from(h2::Reason::REFUSED_STREAM));
        assert_eq!(error_type(&boxed), "refused_stream");
        let boxed: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(error_type(&boxed), "connection_refused");
        let boxed: BoxError = Box::new(std::fmt::Error);
        assert_eq!(error_type(&boxed), "_OTHER");
        assert_eq!(error_type(&"not an error"), "_OTHER");
    }

    #[test]
    fn parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(Code::from_headers(&h), None);
        h.insert("grpc-status", "4".parse().unwrap());
        assert_eq!(Code::from_headers(&h), Some(Code(4)));
        h.insert("grpc-status", "garbage".parse().unwrap());
        assert_eq!(Code::from_headers(&h), Some(Code::UNKNOWN));
        h.insert("grpc-status", "17".parse().unwrap());
        assert_eq!(Code::from_headers(&h), Some(Code::UNKNOWN));
        h.insert("grpc-status", "16".parse().unwrap());
        assert_eq!(Code::from_headers(&h), Some(Code(16)));
        h.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(Code::from_headers(&h), Some(Code::OK));
        // Small maps are scanned, larger ones looked up: the same answer either way.
        let mut many = HeaderMap::new();
        for (i, name) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
            many.insert(name, "x".parse().unwrap());
            assert_eq!(Code::from_headers(&many), None, "{i}");
        }
        many.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(Code::from_headers(&many), Some(Code(5)));
        let mut few = HeaderMap::new();
        few.insert("content-type", "application/grpc".parse().unwrap());
        few.append("grpc-status", "3".parse().unwrap());
        few.append("grpc-status", "4".parse().unwrap());
        assert_eq!(Code::from_headers(&few), Some(Code(3)));
        // As tonic reads them: no padding, no leading zeros, no sign.
        for odd in [
            "",
            "-1",
            "04x",
            "+4",
            "1 6",
            "00",
            "004",
            " 4",
            "99999999999",
        ] {
            h.insert("grpc-status", odd.parse().unwrap());
            assert_eq!(Code::from_headers(&h), Some(Code::UNKNOWN), "{odd:?}");
        }
        assert_eq!(Code::from_http(StatusCode::NOT_FOUND), Some(Code(12)));
        assert_eq!(Code::from_http(StatusCode::OK), None);
        assert_eq!(
            Code::from_http(StatusCode::SERVICE_UNAVAILABLE),
            Some(Code::UNAVAILABLE)
        );
    }

    proptest::proptest! {
        /// Any `grpc-status` bytes: a code from 0 to 16, never a panic.
        #[test]
        fn any_status_value(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..12)) {
            if let Ok(value) = http::HeaderValue::from_bytes(&bytes) {
                let mut h = HeaderMap::new();
                h.insert("grpc-status", value);
                let code = Code::from_headers(&h).unwrap();
                proptest::prop_assert!(code.0 <= 16);
            }
        }
    }
}
