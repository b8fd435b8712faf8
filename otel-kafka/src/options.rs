//! [`Options`]: the one options set of the traced producer and consumer.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::KeyValue;
use opentelemetry::global::ObjectSafeTracerProvider;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::SpanRef;
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_core::messaging::{ConsumerParent, MessagingInstruments};
use otel_core::{Propagation, Propagators, Providers};
use rdkafka::ClientConfig;

/// What the hooks see of a record being produced or a message being processed.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct MessageHead<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition, when known (always for consumed messages).
    pub partition: Option<i32>,
    /// The offset (consumed messages).
    pub offset: Option<i64>,
    /// The key, as bytes.
    pub key: Option<&'a [u8]>,
    /// The payload, as bytes (`None`: a tombstone).
    pub payload: Option<&'a [u8]>,
}

/// Adds to a span as it starts: a producer's `send` span or a consumer's `process` span.
pub type MessageHook = Arc<dyn Fn(&SpanRef<'_>, &MessageHead<'_>) + Send + Sync>;

/// How the traced producer and consumer record: providers, propagation, the consumer span's
/// parent, switches and hooks. Builder style; every method returns the changed options.
///
/// ```
/// use otel_kafka::{ConsumerParent, Options, Propagators};
///
/// let options = Options::new()
///     .propagators(Propagators::builder().tracecontext().b3().build())
///     .consumer_parent(ConsumerParent::LinkOnly)
///     .record_message_key(false)
///     .strip_baggage(true);
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct Options {
    pub(crate) providers: Providers,
    pub(crate) propagation: Propagation,
    pub(crate) consumer_parent: ConsumerParent,
    pub(crate) record_message_key: bool,
    pub(crate) strip_baggage: bool,
    pub(crate) traces: bool,
    pub(crate) metrics: bool,
    pub(crate) client_id: Option<String>,
    pub(crate) server_address: Option<(String, Option<u16>)>,
    pub(crate) consumer_group: Option<String>,
    pub(crate) on_send: Option<MessageHook>,
    pub(crate) on_process: Option<MessageHook>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("providers", &self.providers)
            .field("propagation", &self.propagation)
            .field("consumer_parent", &self.consumer_parent)
            .field("record_message_key", &self.record_message_key)
            .field("strip_baggage", &self.strip_baggage)
            .field("traces", &self.traces)
            .field("metrics", &self.metrics)
            .field("client_id", &self.client_id)
            .field("server_address", &self.server_address)
            .field("consumer_group", &self.consumer_group)
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// The defaults: global providers and propagator, consumer spans children of the producer's
    /// context, keys recorded, baggage propagated, traces and metrics on.
    pub fn new() -> Self {
        Options {
            providers: Providers::new(otel_core::scope(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            )),
            propagation: Propagation::Global,
            consumer_parent: ConsumerParent::Producer,
            record_message_key: true,
            strip_baggage: false,
            traces: true,
            metrics: true,
            client_id: None,
            server_address: None,
            consumer_group: None,
            on_send: None,
            on_process: None,
        }
    }

    /// Takes spans from this provider instead of the global one.
    pub fn tracer_provider<P>(mut self, provider: P) -> Self
    where
        P: ObjectSafeTracerProvider + Send + Sync + 'static,
    {
        self.providers.set_tracer_provider(provider);
        self
    }

    /// Records metrics with this provider instead of the global one.
    pub fn meter_provider<P>(mut self, provider: P) -> Self
    where
        P: MeterProvider + Send + Sync + 'static,
    {
        self.providers.set_meter_provider(provider);
        self
    }

    /// Reads and writes headers with these propagators instead of the global text map propagator.
    /// `Propagators::from_env()` is what `OTEL_PROPAGATORS` says.
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.propagation = Propagation::Propagators(propagators);
        self
    }

    /// How a `process` span relates to the context its message carries (default: a child of the
    /// producer's context, with a link to it).
    pub fn consumer_parent(mut self, parent: ConsumerParent) -> Self {
        self.consumer_parent = parent;
        self
    }

    /// Records `messaging.kafka.message.key` when the key is UTF-8 text (on by default).
    pub fn record_message_key(mut self, record: bool) -> Self {
        self.record_message_key = record;
        self
    }

    /// Writes no `baggage` header into produced records, and removes one the record already has
    /// (off by default): baggage can carry data that must not be stored durably in a topic.
    pub fn strip_baggage(mut self, strip: bool) -> Self {
        self.strip_baggage = strip;
        self
    }

    /// Switches spans on or off (on by default). Context is propagated either way.
    pub fn traces(mut self, enabled: bool) -> Self {
        self.traces = enabled;
        self
    }

    /// Switches metrics on or off (on by default).
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics = enabled;
        self
    }

    /// `messaging.client.id`; read from the `client.id` setting when the client is created from
    /// a [`ClientConfig`] through this crate.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// `server.address` / `server.port`; read from the first of `bootstrap.servers` when the
    /// client is created from a [`ClientConfig`] through this crate.
    pub fn server_address(mut self, host: impl Into<String>, port: Option<u16>) -> Self {
        self.server_address = Some((host.into(), port));
        self
    }

    /// `messaging.consumer.group.name`; read from `group.id` when the consumer is created from a
    /// [`ClientConfig`] through this crate.
    pub fn consumer_group(mut self, group: impl Into<String>) -> Self {
        self.consumer_group = Some(group.into());
        self
    }

    /// Calls `hook` with each recorded `send` span as it starts, to add attributes.
    pub fn on_send(
        mut self,
        hook: impl Fn(&SpanRef<'_>, &MessageHead<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_send = Some(Arc::new(hook));
        self
    }

    /// Calls `hook` with each recorded `process` span as it starts, to add attributes.
    pub fn on_process(
        mut self,
        hook: impl Fn(&SpanRef<'_>, &MessageHead<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_process = Some(Arc::new(hook));
        self
    }

    /// Fills what `config` says and the options do not: client id, server address, group.
    pub(crate) fn with_config(mut self, config: &ClientConfig) -> Self {
        if self.client_id.is_none() {
            // librdkafka's default client.id.
            self.client_id = Some(config.get("client.id").unwrap_or("rdkafka").to_owned());
        }
        if self.server_address.is_none() {
            self.server_address = config
                .get("bootstrap.servers")
                .or_else(|| config.get("metadata.broker.list"))
                .and_then(first_server);
        }
        if self.consumer_group.is_none() {
            self.consumer_group = config.get("group.id").map(str::to_owned);
        }
        self
    }

    pub(crate) fn build(self) -> Arc<Instrumentation> {
        let (server_address, server_port) = match &self.server_address {
            Some((host, port)) => (Some(Arc::<str>::from(host.as_str())), port.map(i64::from)),
            None => (None, None),
        };
        let mut metric_common = vec![KeyValue::new(semconv::MESSAGING_SYSTEM, "kafka")];
        if let Some(host) = &server_address {
            metric_common.push(KeyValue::new(semconv::SERVER_ADDRESS, host.clone()));
        }
        if let Some(port) = server_port {
            metric_common.push(KeyValue::new(semconv::SERVER_PORT, port));
        }
        let client_id = self.client_id.as_deref().map(Arc::<str>::from);
        let group = self.consumer_group.as_deref().map(Arc::<str>::from);
        Arc::new(Instrumentation {
            options: self,
            server_address,
            server_port,
            client_id,
            group,
            metric_common,
            instruments: OnceLock::new(),
        })
    }
}

/// `messaging.consumer.group.name`.
fn group(group: &Arc<str>) -> KeyValue {
    KeyValue::new(semconv::MESSAGING_CONSUMER_GROUP_NAME, group.clone())
}

/// The host and port of the first broker in a `bootstrap.servers` list
/// (`host:port,host:port`, a host possibly `[v6]`, a broker possibly `PLAINTEXT://host:port`).
pub(crate) fn first_server(servers: &str) -> Option<(String, Option<u16>)> {
    let first = servers.split(',').map(str::trim).find(|s| !s.is_empty())?;
    let first = first.split_once("://").map_or(first, |(_, rest)| rest);
    let (host, port) = if let Some(rest) = first.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match first.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (first, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.and_then(|p| p.parse().ok())))
}

/// Options resolved once per wrapped client: the attributes every span carries, the instruments.
pub(crate) struct Instrumentation {
    pub(crate) options: Options,
    server_address: Option<Arc<str>>,
    server_port: Option<i64>,
    client_id: Option<Arc<str>>,
    group: Option<Arc<str>>,
    /// `messaging.system`, `server.*`: on every metric point.
    pub(crate) metric_common: Vec<KeyValue>,
    instruments: OnceLock<MessagingInstruments>,
}

impl fmt::Debug for Instrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.options.fmt(f)
    }
}

impl Instrumentation {
    /// How many attributes [`Instrumentation::push_span_common`] pushes at most.
    pub(crate) const SPAN_COMMON: usize = 7;

    /// Pushes what every span carries: `messaging.system`, `server.*`, `messaging.client.id`,
    /// the operation as `messaging.operation.type` and `.name`, and the consumer group when
    /// `with_group`. Built fresh from the parts (a reference count each) rather than cloned
    /// from a prepared list: a `KeyValue` clone matches on every key and value kind.
    pub(crate) fn push_span_common(
        &self,
        attributes: &mut Vec<KeyValue>,
        operation: &'static str,
        with_group: bool,
    ) {
        attributes.push(KeyValue::new(semconv::MESSAGING_SYSTEM, "kafka"));
        if let Some(host) = &self.server_address {
            attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, host.clone()));
        }
        if let Some(port) = self.server_port {
            attributes.push(KeyValue::new(semconv::SERVER_PORT, port));
        }
        if let Some(id) = &self.client_id {
            attributes.push(KeyValue::new(semconv::MESSAGING_CLIENT_ID, id.clone()));
        }
        attributes.push(KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, operation));
        attributes.push(KeyValue::new(semconv::MESSAGING_OPERATION_NAME, operation));
        if let (true, Some(group)) = (with_group, &self.group) {
            attributes.push(self::group(group));
        }
    }

    /// `messaging.consumer.group.name`, when there is a group.
    pub(crate) fn group(&self) -> Option<KeyValue> {
        self.group.as_ref().map(group)
    }

    /// The instruments, created on first use; `None` when metrics are off.
    pub(crate) fn instruments(&self) -> Option<&MessagingInstruments> {
        self.options.metrics.then(|| {
            self.instruments
                .get_or_init(|| MessagingInstruments::new(&self.options.providers.meter()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_server_of_a_bootstrap_list() {
        assert_eq!(
            first_server("broker-1:9092,broker-2:9092"),
            Some(("broker-1".into(), Some(9092)))
        );
        assert_eq!(
            first_server(" PLAINTEXT://[::1]:19092 "),
            Some(("::1".into(), Some(19092)))
        );
        assert_eq!(first_server("localhost"), Some(("localhost".into(), None)));
        assert_eq!(first_server("host:notaport"), Some(("host".into(), None)));
        assert_eq!(first_server(",,"), None);
        assert_eq!(first_server("[::1"), None);
    }

    #[test]
    fn config_fills_what_options_leave_open() {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "127.0.0.1:9092")
            .set("group.id", "workers");
        let options = Options::new().client_id("mine").with_config(&config);
        assert_eq!(options.client_id.as_deref(), Some("mine"));
        assert_eq!(options.consumer_group.as_deref(), Some("workers"));
        assert_eq!(
            options.server_address,
            Some(("127.0.0.1".into(), Some(9092)))
        );
        let defaults = Options::new().with_config(&ClientConfig::new());
        assert_eq!(defaults.client_id.as_deref(), Some("rdkafka"));
    }
}
