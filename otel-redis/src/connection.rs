//! [`TracedConnection`]: any redis-rs connection, async or sync, with every command traced.

use std::sync::Arc;

use opentelemetry::Context;
use redis::{Arg, Cmd, RedisError, RedisResult, Value};

use crate::messaging::{Delivery, Processing, Producer};
use crate::operation::Operation;
use crate::options::{Config, OtelRedis};
use crate::semconv::{replies_failure, reply_failure};
use crate::streams::StreamEntryExtractor;

/// A redis-rs connection whose commands are traced: it is a `ConnectionLike` itself (async when
/// the wrapped connection is, sync when it is), so `AsyncCommands`/`Commands`, `redis::cmd`,
/// pipelines, transactions and scripts work on it unchanged.
///
/// Each command gets a CLIENT span named after it (`GET`), a child of the current context;
/// a pipeline is one `PIPELINE` span, a transaction one `MULTI` span. See the crate docs for the
/// attributes and metrics.
#[derive(Clone, Debug)]
pub struct TracedConnection<C> {
    inner: C,
    config: Arc<Config>,
}

impl<C> TracedConnection<C> {
    /// Wraps `inner` with the default options (global providers and propagator, no server
    /// address). [`OtelRedis::for_client`] also records where the connection goes.
    pub fn new(inner: C) -> Self {
        OtelRedis::new().wrap(inner)
    }

    pub(crate) fn with_config(inner: C, config: Arc<Config>) -> Self {
        TracedConnection { inner, config }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The wrapped connection, to call its own methods (commands sent through it directly are
    /// not traced).
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the connection.
    pub fn into_inner(self) -> C {
        self.inner
    }

    /// Starts the CONSUMER `process {stream}` span for an entry read with `XREAD` or
    /// `XREADGROUP` (`group`: the consumer group, if any), a child of the context the entry
    /// carries. Handle the entry under [`Processing::context`].
    pub fn process_entry(
        &self,
        stream: &str,
        entry: &redis::streams::StreamId,
        group: Option<&str>,
    ) -> Processing {
        process_entry(&self.config, stream, entry, group)
    }

    /// Opens a Pub/Sub message: the CONSUMER `process {channel}` span (a child of the context its
    /// envelope carries, if any) and the payload the publisher sent. Plain messages give their
    /// payload unchanged.
    pub fn process_message<'m>(&self, message: &'m redis::Msg) -> (Processing, &'m [u8]) {
        process_message(&self.config, message)
    }
}

pub(crate) fn process_entry(
    config: &Arc<Config>,
    stream: &str,
    entry: &redis::streams::StreamId,
    group: Option<&str>,
) -> Processing {
    let extracted = Context::map_current(|current| {
        config
            .propagation
            .extract(current, &StreamEntryExtractor(&entry.map))
    });
    Processing::start(
        config.clone(),
        extracted,
        Delivery {
            destination: stream,
            message_id: Some(&entry.id),
            group,
            body_size: None,
        },
    )
}

pub(crate) fn process_message<'m>(
    config: &Arc<Config>,
    message: &'m redis::Msg,
) -> (Processing, &'m [u8]) {
    let opened = crate::pubsub::open(message.get_payload_bytes());
    let extracted = if opened.fields.is_empty() {
        Context::current()
    } else {
        Context::map_current(|current| config.propagation.extract(current, &opened.fields))
    };
    let pattern: Option<String> = if message.from_pattern() {
        message.get_pattern().ok()
    } else {
        None
    };
    let processing = Processing::start(
        config.clone(),
        extracted,
        Delivery {
            destination: pattern.as_deref().unwrap_or(message.get_channel_name()),
            message_id: None,
            group: None,
            body_size: Some(opened.payload.len()),
        },
    );
    (processing, opened.payload)
}

/// The arguments of `cmd`, its name first (a cursor argument reads as `0`).
fn cmd_args(cmd: &Cmd) -> impl Iterator<Item = &[u8]> + Clone {
    cmd.args_iter().map(|arg| match arg {
        Arg::Simple(bytes) => bytes,
        // A cursor (the only other kind today) reads as a fresh one.
        _ => &b"0"[..],
    })
}

/// Whether `cmd` is an `XADD` (the only command whose arguments the wrapper changes).
fn is_xadd(name: Option<&[u8]>) -> bool {
    name.is_some_and(|name| name.eq_ignore_ascii_case(b"XADD"))
}

/// `cmd` with the producer's fields appended to its field/value pairs.
fn with_fields(cmd: &Cmd, fields: &[(String, String)]) -> Cmd {
    let mut out = Cmd::new();
    for arg in cmd_args(cmd) {
        out.arg(arg);
    }
    for (key, value) in fields {
        out.arg(key.as_str()).arg(value.as_str());
    }
    out
}

fn entry_id(result: &Result<Value, RedisError>) -> Option<String> {
    match result {
        Ok(Value::BulkString(id)) => String::from_utf8(id.clone()).ok(),
        Ok(Value::SimpleString(id)) => Some(id.clone()),
        _ => None,
    }
}

/// A command that carries the current context to consumers (`XADD`, an enveloped `PUBLISH`):
/// the PRODUCER `send {destination}` span, the command made with the context's fields, and the
/// command's own CLIENT span beneath the producer's.
struct Production<'c> {
    producer: Producer<'c>,
    op: Operation<'c>,
    cmd: Cmd,
}

impl<'c> Production<'c> {
    fn start(
        config: &'c Config,
        db: i64,
        destination: &str,
        build: impl FnOnce(&[(String, String)]) -> Cmd,
    ) -> Self {
        let producer = Context::map_current(|cx| Producer::start(config, cx, destination));
        let cmd = build(&producer.fields());
        let op = Operation::command(config, producer.context(), db, cmd_args(&cmd));
        Production { producer, op, cmd }
    }

    /// Ends both spans with the reply; `message_id` reads the message id from it, if any.
    fn end(
        self,
        result: &RedisResult<Value>,
        message_id: fn(&RedisResult<Value>) -> Option<String>,
    ) {
        let failure = reply_failure(result);
        self.op.end(failure.clone());
        self.producer.end(message_id(result), failure.as_ref());
    }
}

#[cfg(feature = "aio")]
impl<C: redis::aio::ConnectionLike + Send> TracedConnection<C> {
    /// Publishes `payload` on `channel` in an envelope that carries the current context, under a
    /// PRODUCER `send {channel}` span; returns how many subscribers received it. Subscribers read
    /// it with [`TracedConnection::process_message`] or [`crate::pubsub::open`].
    pub async fn publish_with_context(
        &mut self,
        channel: &str,
        payload: &[u8],
    ) -> RedisResult<i64> {
        let result = self
            .produce(
                channel,
                |fields| {
                    let mut cmd = redis::cmd("PUBLISH");
                    cmd.arg(channel).arg(crate::pubsub::seal(fields, payload));
                    cmd
                },
                |_| None,
            )
            .await;
        match result? {
            Value::ServerError(error) => Err(error.into()),
            Value::Int(n) => Ok(n),
            _ => Ok(0),
        }
    }

    async fn traced_xadd(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        let stream = cmd_args(cmd).nth(1).unwrap_or_default();
        self.produce(
            &String::from_utf8_lossy(stream),
            |fields| with_fields(cmd, fields),
            entry_id,
        )
        .await
    }

    /// Sends the command `build` makes of the current context's fields, as [`Production`].
    async fn produce(
        &mut self,
        destination: &str,
        build: impl FnOnce(&[(String, String)]) -> Cmd,
        message_id: fn(&RedisResult<Value>) -> Option<String>,
    ) -> RedisResult<Value> {
        let production = Production::start(&self.config, self.inner.get_db(), destination, build);
        let result = self.inner.req_packed_command(&production.cmd).await;
        production.end(&result, message_id);
        result
    }
}

#[cfg(feature = "aio")]
impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for TracedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> redis::RedisFuture<'a, Value> {
        if self.config.inject_streams && is_xadd(cmd_args(cmd).next()) {
            return Box::pin(self.traced_xadd(cmd));
        }
        let db = self.inner.get_db();
        // The request goes out when the future is first polled, under the span started just
        // below. (Started after the future is made, the span's allocations come after the
        // connection's own: measured ~50 instructions per command cheaper with glibc.)
        let reply = self.inner.req_packed_command(cmd);
        let op = Context::map_current(|cx| Operation::command(&self.config, cx, db, cmd_args(cmd)));
        Box::pin(async move {
            let result = reply.await;
            op.end(reply_failure(&result));
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        let op = Context::map_current(|cx| {
            Operation::pipeline(
                &self.config,
                cx,
                self.inner.get_db(),
                || pipeline.cmd_iter().map(cmd_args),
                pipeline.len(),
                pipeline.is_transaction(),
            )
        });
        let replies = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = replies.await;
            op.end(replies_failure(&result));
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

impl<C: redis::ConnectionLike> TracedConnection<C> {
    fn sync_xadd(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        let stream = cmd_args(cmd).nth(1).unwrap_or_default();
        let production = Production::start(
            &self.config,
            self.inner.get_db(),
            &String::from_utf8_lossy(stream),
            |fields| with_fields(cmd, fields),
        );
        let result = self.inner.req_command(&production.cmd);
        production.end(&result, entry_id);
        result
    }
}

impl<C: redis::ConnectionLike> redis::ConnectionLike for TracedConnection<C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let command = crate::resp::commands(cmd).next().unwrap_or_default();
        let op = Context::map_current(|cx| {
            Operation::command(&self.config, cx, self.inner.get_db(), command)
        });
        let result = self.inner.req_packed_command(cmd);
        op.end(reply_failure(&result));
        result
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let commands: Vec<_> = crate::resp::commands(cmd).collect();
        let is = |c: Option<&crate::resp::Args<'_>>, name: &[u8]| {
            c.and_then(|c| c.clone().next())
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        };
        // redis-rs sends a transaction as MULTI, the commands, EXEC, and reads only EXEC's reply.
        let transaction = offset > 0
            && commands.len() >= 2
            && is(commands.first(), b"MULTI")
            && is(commands.last(), b"EXEC");
        let inner = if transaction {
            &commands[1..commands.len() - 1]
        } else {
            &commands[..]
        };
        let op = Context::map_current(|cx| {
            Operation::pipeline(
                &self.config,
                cx,
                self.inner.get_db(),
                || inner.iter().cloned(),
                inner.len(),
                transaction,
            )
        });
        let result = self.inner.req_packed_commands(cmd, offset, count);
        op.end(replies_failure(&result));
        result
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        if self.config.inject_streams && is_xadd(cmd_args(cmd).next()) {
            return self.sync_xadd(cmd);
        }
        let op = Context::map_current(|cx| {
            Operation::command(&self.config, cx, self.inner.get_db(), cmd_args(cmd))
        });
        let result = self.inner.req_command(cmd);
        op.end(reply_failure(&result));
        result
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn supports_pipelining(&self) -> bool {
        self.inner.supports_pipelining()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
