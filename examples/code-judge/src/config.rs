//! The environment variables the demo's services read (besides the standard `OTEL_*` ones, which
//! `otel-init` reads), with their defaults.

/// Where the gateway listens (`host:port`).
pub const GATEWAY_LISTEN: &str = "GATEWAY_LISTEN";
/// Where code-manage listens for gRPC (`host:port`).
pub const CODE_MANAGE_LISTEN: &str = "CODE_MANAGE_LISTEN";
/// The gateway's gRPC target for code-manage (`http://host:port`).
pub const CODE_MANAGE_URL: &str = "CODE_MANAGE_URL";
/// The gateway's Redis (`redis://host:port/db`).
pub const REDIS_URL: &str = "REDIS_URL";
/// Kafka's `bootstrap.servers`, for code-manage and the worker.
pub const KAFKA_BOOTSTRAP_SERVERS: &str = "KAFKA_BOOTSTRAP_SERVERS";

/// The variable's value, or `default` when it is unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => default.to_owned(),
    }
}

/// Defaults: the ports the deployment files use.
pub mod defaults {
    /// [`super::GATEWAY_LISTEN`].
    pub const GATEWAY_LISTEN: &str = "0.0.0.0:8080";
    /// [`super::CODE_MANAGE_LISTEN`].
    pub const CODE_MANAGE_LISTEN: &str = "0.0.0.0:50051";
    /// [`super::CODE_MANAGE_URL`].
    pub const CODE_MANAGE_URL: &str = "http://127.0.0.1:50051";
    /// [`super::REDIS_URL`].
    pub const REDIS_URL: &str = "redis://127.0.0.1:6379/0";
    /// [`super::KAFKA_BOOTSTRAP_SERVERS`].
    pub const KAFKA_BOOTSTRAP_SERVERS: &str = "127.0.0.1:9092";
}
