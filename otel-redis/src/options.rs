//! [`OtelRedis`]: the one options set, and the resolved configuration every wrapped connection
//! shares.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use opentelemetry::global::ObjectSafeTracerProvider;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_core::messaging::ConsumerParent;
use otel_core::{Propagation, Propagators, Providers};
use redis::{ConnectionAddr, ConnectionInfo};

use crate::connection::TracedConnection;
use crate::messaging::Processing;
use crate::metrics::Instruments;
use crate::statement::{DEFAULT_MAX_QUERY_TEXT_LEN, QueryText};

/// How to instrument Redis connections: providers, propagators, what statements show, the server
/// the connections talk to. Build it once, then [`wrap`](OtelRedis::wrap) each connection.
///
/// ```
/// use otel_redis::{OtelRedis, QueryText};
///
/// let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
/// let otel = OtelRedis::for_client(&client)
///     .query_text(QueryText::Sanitized)
///     .key_pattern(true);
/// # let _ = otel;
/// ```
#[derive(Clone)]
pub struct OtelRedis {
    config: Config,
    /// What [`OtelRedis::wrap`] hands out, made once so that connections wrapped with the same
    /// options share their instruments.
    shared: OnceLock<Arc<Config>>,
}

impl Default for OtelRedis {
    fn default() -> Self {
        OtelRedis::new()
    }
}

impl fmt::Debug for OtelRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl OtelRedis {
    /// The default options: global providers and propagator, sanitized statements, no server
    /// address (give one with [`OtelRedis::server_address`] or [`OtelRedis::for_client`]).
    pub fn new() -> Self {
        OtelRedis {
            config: Config {
                providers: Providers::new(otel_core::scope(
                    env!("CARGO_PKG_NAME"),
                    env!("CARGO_PKG_VERSION"),
                )),
                propagation: Propagation::Global,
                traces: true,
                metrics: true,
                query_text: QueryText::Sanitized,
                max_query_text_len: DEFAULT_MAX_QUERY_TEXT_LEN,
                key_pattern: false,
                server_address: None,
                server_port: None,
                peer: None,
                namespace: None,
                consumer_parent: ConsumerParent::Producer,
                inject_streams: true,
                strip_baggage: false,
                filter: None,
                instruments: OnceLock::new(),
            },
            shared: OnceLock::new(),
        }
    }

    /// Options for connections made by `client`: the server address, port and database index
    /// from its connection info (never its credentials).
    pub fn for_client(client: &redis::Client) -> Self {
        OtelRedis::new().connection_info(client.get_connection_info())
    }

    /// Takes the server address, port and database index from `info` (never its credentials).
    pub fn connection_info(self, info: &ConnectionInfo) -> Self {
        let this = match info.addr() {
            ConnectionAddr::Tcp(host, port) => self.server_address(host.as_str(), Some(*port)),
            ConnectionAddr::TcpTls { host, port, .. } => {
                self.server_address(host.as_str(), Some(*port))
            }
            ConnectionAddr::Unix(path) => {
                self.server_address(path.to_string_lossy().into_owned(), None)
            }
            _ => self,
        };
        this.namespace(info.redis_settings().db())
    }

    /// The server the connections talk to: `server.address` and `server.port`.
    ///
    /// Not for a cluster connection (`redis::cluster_async::ClusterConnection`): it routes each
    /// command to a node out of the wrapper's sight, so one address would be wrong for most
    /// commands; wrap it with options that give none, and its spans claim no server.
    pub fn server_address(mut self, host: impl Into<String>, port: Option<u16>) -> Self {
        let host: String = host.into();
        let config = self.config_mut();
        config.server_address = Some(StringValue::from(Arc::<str>::from(host)));
        config.server_port = port;
        self
    }

    /// The address of the peer the connections talk to (`network.peer.address`/`port`), when it
    /// is known and says more than `server.address` does: the address a name resolved to, a
    /// proxy's. (When `server.address` is an IP address it is the peer already, and repeating it
    /// would cost every span two attributes.)
    pub fn peer_address(mut self, peer: SocketAddr) -> Self {
        self.config_mut().peer = Some(self::peer(peer));
        self
    }

    /// The database index for `db.namespace`, when the wrapped connection cannot tell (the async
    /// `ConnectionLike::get_db` of some connections reports 0 whatever was selected).
    pub fn namespace(mut self, db: i64) -> Self {
        self.config_mut().namespace = Some(db);
        self
    }

    /// Takes spans from this provider instead of the global one.
    pub fn tracer_provider<P>(mut self, provider: P) -> Self
    where
        P: ObjectSafeTracerProvider + Send + Sync + 'static,
    {
        self.config_mut().providers.set_tracer_provider(provider);
        self
    }

    /// Records metrics with this provider instead of the global one.
    pub fn meter_provider<P>(mut self, provider: P) -> Self
    where
        P: MeterProvider + Send + Sync + 'static,
    {
        self.config_mut().providers.set_meter_provider(provider);
        self
    }

    /// Reads and writes stream fields and Pub/Sub envelopes with these propagators instead of
    /// the global text map propagator.
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.config_mut().propagation = Propagation::Propagators(propagators);
        self
    }

    /// Switches spans on or off (on by default). Context still goes into stream entries.
    pub fn traces(mut self, enabled: bool) -> Self {
        self.config_mut().traces = enabled;
        self
    }

    /// Switches metrics on or off (on by default).
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.config_mut().metrics = enabled;
        self
    }

    /// How much of each command `db.query.text` shows (default [`QueryText::Sanitized`]).
    /// Credentials never show, whatever the mode.
    pub fn query_text(mut self, mode: QueryText) -> Self {
        self.config_mut().query_text = mode;
        self
    }

    /// Cuts `db.query.text` at this many bytes (default
    /// [`DEFAULT_MAX_QUERY_TEXT_LEN`](crate::DEFAULT_MAX_QUERY_TEXT_LEN)).
    pub fn max_query_text_len(mut self, bytes: usize) -> Self {
        self.config_mut().max_query_text_len = bytes;
        self
    }

    /// Records `redis.key.pattern`: the first key with its numbers, UUIDs and hex ids replaced by
    /// `*` (`user:*:profile`). Off by default (it shows key names even when statements are off).
    pub fn key_pattern(mut self, enabled: bool) -> Self {
        self.config_mut().key_pattern = enabled;
        self
    }

    /// How a stream consumer's or subscriber's `process` span relates to the producer's context
    /// (default: its child, with a link).
    pub fn consumer_parent(mut self, mode: ConsumerParent) -> Self {
        self.config_mut().consumer_parent = mode;
        self
    }

    /// Whether `XADD` sent through a wrapped connection gets a PRODUCER span and the context in
    /// extra field/value pairs (on by default; `XADD` in pipelines is left as it is).
    pub fn inject_streams(mut self, enabled: bool) -> Self {
        self.config_mut().inject_streams = enabled;
        self
    }

    /// Leaves baggage out of what goes into stream entries and Pub/Sub envelopes (off by
    /// default): baggage can carry data that must not be stored durably in a stream. The trace
    /// context still goes.
    pub fn strip_baggage(mut self, strip: bool) -> Self {
        self.config_mut().strip_baggage = strip;
        self
    }

    /// Instruments only the operations for which `filter` returns `true`; it sees the operation
    /// name (`GET`, `PIPELINE`, `MULTI`; a command the crate does not know by its own name,
    /// upper case). Others get neither span nor metric (health-check `PING`s, say).
    pub fn filter(mut self, filter: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.config_mut().filter = Some(Arc::new(filter));
        self
    }

    /// Wraps `connection`: every command through it is traced.
    pub fn wrap<C>(&self, connection: C) -> TracedConnection<C> {
        TracedConnection::with_config(connection, self.shared())
    }

    /// [`TracedConnection::process_entry`] for consumers that read without a wrapped connection.
    pub fn process_entry(
        &self,
        stream: &str,
        entry: &redis::streams::StreamId,
        group: Option<&str>,
    ) -> Processing {
        crate::connection::process_entry(&self.shared(), stream, entry, group)
    }

    /// [`TracedConnection::process_message`] for subscribers (a `PubSub` is not a wrapped
    /// connection).
    pub fn process_message<'m>(&self, message: &'m redis::Msg) -> (Processing, &'m [u8]) {
        crate::connection::process_message(&self.shared(), message)
    }

    /// The resolved configuration, shared by every connection wrapped with these options.
    pub(crate) fn shared(&self) -> Arc<Config> {
        self.shared
            .get_or_init(|| Arc::new(self.config.clone()))
            .clone()
    }

    fn config_mut(&mut self) -> &mut Config {
        self.shared = OnceLock::new();
        &mut self.config
    }
}

/// Decides whether an operation is instrumented, from its name.
pub(crate) type Filter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The resolved options, shared by every clone of a wrapped connection.
pub(crate) struct Config {
    pub(crate) providers: Providers,
    pub(crate) propagation: Propagation,
    pub(crate) traces: bool,
    pub(crate) metrics: bool,
    pub(crate) query_text: QueryText,
    pub(crate) max_query_text_len: usize,
    pub(crate) key_pattern: bool,
    pub(crate) server_address: Option<StringValue>,
    pub(crate) server_port: Option<u16>,
    pub(crate) peer: Option<(StringValue, u16)>,
    pub(crate) namespace: Option<i64>,
    pub(crate) consumer_parent: ConsumerParent,
    pub(crate) inject_streams: bool,
    pub(crate) strip_baggage: bool,
    pub(crate) filter: Option<Filter>,
    instruments: OnceLock<Instruments>,
}

impl Clone for Config {
    fn clone(&self) -> Self {
        Config {
            providers: self.providers.clone(),
            propagation: self.propagation.clone(),
            traces: self.traces,
            metrics: self.metrics,
            query_text: self.query_text,
            max_query_text_len: self.max_query_text_len,
            key_pattern: self.key_pattern,
            server_address: self.server_address.clone(),
            server_port: self.server_port,
            peer: self.peer.clone(),
            namespace: self.namespace,
            consumer_parent: self.consumer_parent,
            inject_streams: self.inject_streams,
            strip_baggage: self.strip_baggage,
            filter: self.filter.clone(),
            // Made anew on first use by the clone.
            instruments: OnceLock::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelRedis")
            .field("providers", &self.providers)
            .field("traces", &self.traces)
            .field("metrics", &self.metrics)
            .field("query_text", &self.query_text)
            .field("max_query_text_len", &self.max_query_text_len)
            .field("key_pattern", &self.key_pattern)
            .field("server_address", &self.server_address)
            .field("server_port", &self.server_port)
            .field("namespace", &self.namespace)
            .field("consumer_parent", &self.consumer_parent)
            .field("inject_streams", &self.inject_streams)
            .field("strip_baggage", &self.strip_baggage)
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

impl Config {
    /// Whether the filter, if any, lets the operation called `name` be instrumented. `name` is
    /// called only when there is a filter, and may borrow (a known command's name allocates
    /// nothing).
    #[inline(always)]
    pub(crate) fn instruments_operation<'n>(&self, name: impl FnOnce() -> Cow<'n, str>) -> bool {
        self.filter.as_ref().is_none_or(|filter| filter(&name()))
    }

    /// The metric instruments, made on first use.
    pub(crate) fn instruments(&self) -> &Instruments {
        self.instruments
            .get_or_init(|| Instruments::new(&self.providers.meter()))
    }

    /// How many attributes [`Config::push_server_attributes`] pushes.
    pub(crate) fn server_attribute_count(&self) -> usize {
        usize::from(self.server_address.is_some())
            + usize::from(self.server_port.is_some())
            + 2 * usize::from(self.peer.is_some())
    }

    /// `server.address` and `server.port`, as configured: on spans and metric points alike.
    #[inline(always)]
    pub(crate) fn push_server(&self, attributes: &mut Vec<KeyValue>) {
        if let Some(address) = &self.server_address {
            attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, address.clone()));
        }
        if let Some(port) = self.server_port {
            attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
    }

    /// `server.address`, `server.port` and the peer's address, as configured.
    #[inline(always)]
    pub(crate) fn push_server_attributes(&self, attributes: &mut Vec<KeyValue>) {
        self.push_server(attributes);
        if let Some((address, port)) = &self.peer {
            attributes.push(KeyValue::new(
                semconv::NETWORK_PEER_ADDRESS,
                address.clone(),
            ));
            attributes.push(KeyValue::new(semconv::NETWORK_PEER_PORT, i64::from(*port)));
        }
    }
}

fn peer(addr: SocketAddr) -> (StringValue, u16) {
    (
        StringValue::from(Arc::<str>::from(addr.ip().to_string())),
        addr.port(),
    )
}
