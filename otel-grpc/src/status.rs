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
    /// trailers). A value that is not a number from 0 to 16 reads as UNKNOWN, as the gRPC spec
    /// says of unknown codes.
    pub fn from_headers(headers: &HeaderMap) -> Option<Code> {
        // A ready-made name: a `&str` key would be parsed and lower-cased on every lookup.
        const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
        let value = headers.get(GRPC_STATUS)?.as_bytes().trim_ascii();
        // `1*DIGIT`, from 0 to 16; anything else reads as UNKNOWN.
        let code = if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            2
        } else {
            value.iter().fold(0u32, |n, &d| {
                n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
            })
        };
        Some(Code(
            u8::try_from(code).ok().filter(|&c| c <= 16).unwrap_or(2),
        ))
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
        h.insert("grpc-status", " 16 ".parse().unwrap());
        assert_eq!(Code::from_headers(&h), Some(Code(16)));
        h.insert("grpc-status", "004".parse().unwrap());
        assert_eq!(Code::from_headers(&h), Some(Code(4)));
        h.insert("grpc-status", "99999999999".parse().unwrap());
        assert_eq!(Code::from_headers(&h), Some(Code::UNKNOWN));
        for odd in ["", "-1", "04x", "+4", "1 6"] {
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
}
