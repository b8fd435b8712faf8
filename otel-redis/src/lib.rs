//! OpenTelemetry for redis-rs: wrap a connection once, and every command through it is traced,
//! with statements that never show values or credentials, `db.client.operation.duration`, and
//! context carried through Streams and Pub/Sub.
//!
//! ```
//! use redis::AsyncCommands;
//! use otel_redis::OtelRedis;
//!
//! async fn handler(client: &redis::Client) -> redis::RedisResult<Option<String>> {
//!     // Once, where the connection is made:
//!     let mut con = OtelRedis::for_client(client).wrap(client.get_multiplexed_async_connection().await?);
//!     // Then as before: a CLIENT span `SET` (db.query.text `SET user:42 ?`), then `GET`.
//!     con.set::<_, _, ()>("user:42", "Ada").await?;
//!     con.get("user:42").await
//! }
//! # let _ = handler;
//! ```
//!
//! [`TracedConnection`] is a `ConnectionLike` itself, async over `MultiplexedConnection`,
//! `ConnectionManager` or the cluster connection, sync over `Connection`: `redis::cmd`,
//! pipelines (one `PIPELINE` span), transactions (one `MULTI` span) and scripts work unchanged.
//! (A cluster connection picks the node for each command itself, out of the wrapper's sight: wrap
//! it without a server address, see [`OtelRedis::server_address`].)
//!
//! # What is recorded
//!
//! | span (CLIENT) | attributes |
//! |---|---|
//! | the command (`GET`), `PIPELINE`, `MULTI` | `db.system.name` = `redis`, `db.operation.name`, `db.namespace` (the database index), `server.address`/`port`, `network.peer.address`/`port` (when given with [`OtelRedis::peer_address`]), `db.query.text` (sanitized: `SET user:42 ?`, `HSET h f ? f ?`), `db.operation.batch.size`, on failure `db.response.status_code` (`WRONGTYPE`) and `error.type`; opt-in `redis.key.pattern` (`user:*:profile`) |
//!
//! A nil reply is not an error. Credentials (`AUTH`, `HELLO … AUTH`, `MIGRATE … AUTH`,
//! `CONFIG SET requirepass`, `ACL SETUSER`) never show, whatever [`QueryText`] says.
//!
//! Metric `db.client.operation.duration` (seconds, the advised buckets) with `db.system.name`,
//! `db.operation.name` (`_OTHER` for commands this crate does not know), `db.namespace`,
//! `server.address`, `server.port`, and on failure `error.type` and `db.response.status_code`
//! (Redis's own codes, else `_OTHER`).
//!
//! # Context through Redis
//!
//! - Streams: an `XADD` through a wrapped connection gets a PRODUCER `send {stream}` span and
//!   carries its context in extra field/value pairs; [`TracedConnection::process_entry`] starts
//!   the CONSUMER `process {stream}` span for an entry read back. See [`streams`].
//! - Pub/Sub: [`TracedConnection::publish_with_context`] publishes in a small envelope;
//!   [`TracedConnection::process_message`] opens it (plain payloads pass through). See [`pubsub`].

mod command;
mod connection;
mod messaging;
mod metrics;
mod operation;
mod options;
pub mod pubsub;
mod resp;
mod semconv;
mod statement;
pub mod streams;

pub use connection::TracedConnection;
pub use messaging::Processing;
pub use metrics::DURATION_BUCKETS;
pub use operation::KEY_PATTERN;
pub use options::OtelRedis;
pub use otel_core::Propagators;
pub use otel_core::messaging::ConsumerParent;
pub use statement::{DEFAULT_MAX_QUERY_TEXT_LEN, QueryText};
