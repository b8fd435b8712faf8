//! How a reply or an error maps onto `db.response.status_code` and `error.type`.

use std::borrow::Cow;
use std::error::Error;
use std::io;
use std::sync::Arc;

use redis::{ErrorKind, RedisError, Value};

use crate::command::is_keyword;

/// `db.system.name` of every span and metric.
pub(crate) const REDIS: &str = "redis";

/// The error prefixes Redis itself sends: a metric's `error.type` and `db.response.status_code`
/// take one of these or `_OTHER`.
const KNOWN_CODES: &[&str] = &[
    "ASK",
    "BUSY",
    "BUSYGROUP",
    "BUSYKEY",
    "CLUSTERDOWN",
    "CROSSSLOT",
    "ERR",
    "EXECABORT",
    "LOADING",
    "MASTERDOWN",
    "MISCONF",
    "MOVED",
    "NOAUTH",
    "NOGROUP",
    "NOPERM",
    "NOPROTO",
    "NOREPLICAS",
    "NOSCRIPT",
    "NOSUB",
    "NOTBUSY",
    "OOM",
    "READONLY",
    "TRYAGAIN",
    "UNBLOCKED",
    "UNKILLABLE",
    "WRONGPASS",
    "WRONGTYPE",
];

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered with an error: its prefix (`WRONGTYPE`).
    Server(Cow<'static, str>),
    /// The client failed: the `error.type` of its error.
    Client(&'static str),
}

impl Failure {
    /// `error.type` on the span.
    pub(crate) fn error_type(&self) -> Cow<'static, str> {
        match self {
            Failure::Server(code) => code.clone(),
            Failure::Client(kind) => Cow::Borrowed(kind),
        }
    }

    /// `error.type` on the metric: bounded.
    pub(crate) fn metric_error_type(&self) -> &'static str {
        match self {
            Failure::Server(code) => otel_core::bounded(code, KNOWN_CODES),
            Failure::Client(kind) => kind,
        }
    }

    /// `db.response.status_code`: only the server's.
    pub(crate) fn status_code(&self) -> Option<Cow<'static, str>> {
        match self {
            Failure::Server(code) => Some(code.clone()),
            Failure::Client(_) => None,
        }
    }
}

/// A server error code as an attribute value: the code when it reads as one (borrowed when it is
/// one of Redis's own), else `_OTHER`.
fn server_code(code: &str) -> Cow<'static, str> {
    match otel_core::bounded(code, KNOWN_CODES) {
        otel_core::OTHER if is_keyword(code.as_bytes()) => Cow::Owned(code.to_owned()),
        known_or_other => Cow::Borrowed(known_or_other),
    }
}

/// The failure a single command's reply reports; `None` for success (a nil reply included).
pub(crate) fn reply_failure(result: &Result<Value, RedisError>) -> Option<Failure> {
    match result {
        Ok(Value::ServerError(error)) => Some(Failure::Server(server_code(error.code()))),
        Ok(_) => None,
        Err(error) => Some(error_failure(error)),
    }
}

/// The failure of a pipeline or transaction: its error, else the first error among its replies
/// (and, for a transaction, inside the `EXEC` reply).
pub(crate) fn replies_failure(result: &Result<Vec<Value>, RedisError>) -> Option<Failure> {
    match result {
        Ok(values) => values.iter().find_map(|value| match value {
            Value::ServerError(error) => Some(Failure::Server(server_code(error.code()))),
            Value::Array(inner) => inner.iter().find_map(|value| match value {
                Value::ServerError(error) => Some(Failure::Server(server_code(error.code()))),
                _ => None,
            }),
            _ => None,
        }),
        Err(error) => Some(error_failure(error)),
    }
}

/// The failure an error reports: the server's code, else the client's error type.
pub(crate) fn error_failure(error: &RedisError) -> Failure {
    match error.code() {
        Some(code) => Failure::Server(server_code(code)),
        None => Failure::Client(client_error_type(error)),
    }
}

/// `error.type` of an error raised in the client (I/O, parsing, configuration).
fn client_error_type(error: &RedisError) -> &'static str {
    if error.is_timeout() {
        return "timeout";
    }
    let from_chain = otel_core::error_type_with(error, |e| {
        // redis-rs keeps its I/O error behind an `Arc<dyn Error>`, which a plain downcast misses.
        e.downcast_ref::<Arc<dyn Error + Send + Sync>>()
            .and_then(|inner| inner.downcast_ref::<io::Error>())
            .map(|io| otel_core::io_error_type(io.kind()))
            .filter(|kind| *kind != otel_core::OTHER)
    });
    if from_chain != otel_core::OTHER {
        return from_chain;
    }
    match error.kind() {
        ErrorKind::Io => "io_error",
        ErrorKind::Parse => "parse_error",
        ErrorKind::AuthenticationFailed => "authentication_failed",
        ErrorKind::UnexpectedReturnType => "unexpected_return_type",
        ErrorKind::InvalidClientConfig => "invalid_client_config",
        ErrorKind::Client => "client_error",
        ErrorKind::ClusterConnectionNotFound => "cluster_connection_not_found",
        ErrorKind::RESP3NotSupported => "resp3_not_supported",
        _ => otel_core::OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_inside_redis_errors_give_their_kind() {
        let refused = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            error_failure(&refused),
            Failure::Client("connection_refused")
        );
        let timeout = RedisError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(error_failure(&timeout), Failure::Client("timeout"));
        let reset = RedisError::from(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(error_failure(&reset), Failure::Client("connection_reset"));
    }

    #[test]
    fn server_codes_are_bounded_on_metrics() {
        let module = Failure::Server(server_code("MYMODULE"));
        assert_eq!(module.error_type(), "MYMODULE");
        assert_eq!(module.metric_error_type(), otel_core::OTHER);
        assert_eq!(server_code("bad code\u{0}"), otel_core::OTHER);
        assert!(matches!(
            server_code("WRONGTYPE"),
            Cow::Borrowed("WRONGTYPE")
        ));
        let wrongtype = Failure::Server(server_code("WRONGTYPE"));
        assert_eq!(wrongtype.metric_error_type(), "WRONGTYPE");
        assert_eq!(reply_failure(&Ok(Value::Nil)), None);
    }
}
