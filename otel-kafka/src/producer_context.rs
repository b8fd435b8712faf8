//! [`TracedProducerContext`]: traced sends for `BaseProducer` and `ThreadedProducer`, whose
//! delivery reports arrive through the producer's context.

use std::sync::Arc;

use rdkafka::client::{ClientContext, OAuthToken};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedHeaders, ToBytes};
use rdkafka::producer::{
    BaseRecord, DefaultProducerContext, DeliveryResult, Partitioner, ProducerContext,
};
use rdkafka::statistics::Statistics;
use rdkafka::util::IntoOpaque;

use crate::options::{Instrumentation, MessageHead, Options};
use crate::producer::SendOp;

/// A [`ProducerContext`] that ends each traced record's PRODUCER span `send {topic}` with its
/// delivery report, then hands the report to the context it wraps (its delivery opaque included).
///
/// Build the producer with it, and pass each record through [`TracedProducerContext::trace`]:
/// the span starts there (under the current context) and its context goes into the record's
/// headers. The span ends when librdkafka reports the delivery (in `poll`, or on a
/// `ThreadedProducer`'s thread); a record `send` hands back (never queued) ends it with the
/// error through [`TracedProducerContext::send_failed`], or without an outcome when dropped.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use rdkafka::ClientConfig;
/// use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
/// use otel_kafka::{Options, TracedProducerContext};
/// # let cluster = rdkafka::mocking::MockCluster::new(1)?;
/// # let brokers = cluster.bootstrap_servers();
///
/// let mut config = ClientConfig::new();
/// config.set("bootstrap.servers", &brokers);
/// let producer: ThreadedProducer<TracedProducerContext> =
///     config.create_with_context(TracedProducerContext::new(&config, Options::new()))?;
/// let record = producer.context().trace(BaseRecord::to("orders").key("42").payload("{}"));
/// producer.send(record).map_err(|(error, _record)| error)?;
/// producer.flush(std::time::Duration::from_secs(5))?;
/// # Ok(())
/// # }
/// ```
pub struct TracedProducerContext<C = DefaultProducerContext> {
    inner: C,
    instrumentation: Arc<Instrumentation>,
}

impl<C> std::fmt::Debug for TracedProducerContext<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedProducerContext")
            .field("options", &self.instrumentation)
            .finish_non_exhaustive()
    }
}

impl TracedProducerContext {
    /// The default context, traced with `options` (what they leave open is read from `config`:
    /// `client.id`, `bootstrap.servers`).
    pub fn new(config: &rdkafka::ClientConfig, options: Options) -> Self {
        Self::wrap(DefaultProducerContext, options.with_config(config))
    }
}

impl<C> TracedProducerContext<C> {
    /// Wraps the application's own producer context.
    pub fn wrap(inner: C, options: Options) -> Self {
        TracedProducerContext {
            inner,
            instrumentation: options.build(),
        }
    }

    /// The context underneath.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Starts the record's span under the current context, writes its context into the record's
    /// headers, and carries the span to the delivery report in the record's delivery opaque.
    pub fn trace<'a, K, P, D>(
        &self,
        record: BaseRecord<'a, K, P, D>,
    ) -> BaseRecord<'a, K, P, Box<Traced<D>>>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
        D: IntoOpaque,
    {
        let head = MessageHead {
            topic: record.topic,
            partition: record.partition,
            offset: None,
            key: record.key.map(ToBytes::to_bytes),
            payload: record.payload.map(ToBytes::to_bytes),
        };
        map_opaque(record, |headers, inner| {
            Box::new(Traced {
                op: SendOp::start_with(&self.instrumentation, &head, headers),
                inner,
            })
        })
    }
}

/// `record` with its delivery opaque replaced by what `f` makes of it (`f` may change the
/// record's headers too): a traced record and the wrapped context's own are the same record
/// with different opaques.
fn map_opaque<'a, K, P, D, E>(
    record: BaseRecord<'a, K, P, D>,
    f: impl FnOnce(&mut Option<OwnedHeaders>, D) -> E,
) -> BaseRecord<'a, K, P, E>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    D: IntoOpaque,
    E: IntoOpaque,
{
    let BaseRecord {
        topic,
        partition,
        payload,
        key,
        timestamp,
        mut headers,
        delivery_opaque,
    } = record;
    let delivery_opaque = f(&mut headers, delivery_opaque);
    BaseRecord {
        topic,
        partition,
        payload,
        key,
        timestamp,
        headers,
        delivery_opaque,
    }
}

/// A traced record's delivery opaque: its span, and the opaque the wrapped context expects.
#[derive(Debug)]
pub struct Traced<D> {
    op: SendOp,
    inner: D,
}

impl<D> Traced<D> {
    /// The wrapped context's opaque.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<C> TracedProducerContext<C> {
    /// Ends the span of a record that `send` handed back instead of queuing it (`QueueFull`, a
    /// message too large, an unknown partition…): `error.type` is the error's code name, the
    /// status an error, and the metrics count the attempt, as for a failed delivery report.
    /// Returns the record with the wrapped context's own opaque: retry it through
    /// [`TracedProducerContext::trace`] (a new span; the stale propagation headers are
    /// replaced), or drop it.
    ///
    /// A record dropped without this call still ends its span, without an outcome.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use rdkafka::ClientConfig;
    /// use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    /// use otel_kafka::{Options, TracedProducerContext};
    /// # let cluster = rdkafka::mocking::MockCluster::new(1)?;
    /// # let brokers = cluster.bootstrap_servers();
    ///
    /// let mut config = ClientConfig::new();
    /// config.set("bootstrap.servers", &brokers);
    /// let producer: BaseProducer<TracedProducerContext> =
    ///     config.create_with_context(TracedProducerContext::new(&config, Options::new()))?;
    /// let record = producer.context().trace(BaseRecord::to("orders").key("42").payload("{}"));
    /// if let Err((error, record)) = producer.send(record) {
    ///     let _record = producer.context().send_failed(&error, record);
    ///     // Poll, then retry with `producer.context().trace(_record)`, or give up.
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_failed<'a, K, P, D>(
        &self,
        error: &KafkaError,
        record: BaseRecord<'a, K, P, Box<Traced<D>>>,
    ) -> BaseRecord<'a, K, P, D>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
        D: IntoOpaque,
    {
        map_opaque(record, |_, traced| {
            let Traced { op, inner } = *traced;
            op.finish_with(Err(error));
            inner
        })
    }
}

impl<C: ClientContext> ClientContext for TracedProducerContext<C> {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = C::ENABLE_REFRESH_OAUTH_TOKEN;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.inner.log(level, fac, log_message);
    }

    fn stats(&self, statistics: Statistics) {
        self.inner.stats(statistics);
    }

    fn stats_raw(&self, statistics: &[u8]) {
        self.inner.stats_raw(statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.inner.error(error, reason);
    }

    fn generate_oauth_token(
        &self,
        oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.inner.generate_oauth_token(oauthbearer_config)
    }
}

impl<C, Part> ProducerContext<Part> for TracedProducerContext<C>
where
    C: ProducerContext<Part>,
    C::DeliveryOpaque: Send + Sync,
    Part: Partitioner,
{
    type DeliveryOpaque = Box<Traced<C::DeliveryOpaque>>;

    fn delivery(
        &self,
        delivery_result: &DeliveryResult<'_>,
        delivery_opaque: Self::DeliveryOpaque,
    ) {
        let Traced { op, inner } = *delivery_opaque;
        op.finish_with(match delivery_result {
            Ok(message) => Ok((message.partition(), message.offset())),
            Err((error, _)) => Err(error),
        });
        self.inner.delivery(delivery_result, inner);
    }

    fn get_custom_partitioner(&self) -> Option<&Part> {
        self.inner.get_custom_partitioner()
    }
}
