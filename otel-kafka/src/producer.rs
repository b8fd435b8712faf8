//! [`TracedProducer`]: a `FutureProducer` whose every `send` is a PRODUCER span.

use std::borrow::Cow;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_core::messaging::{MessagingSpan, metric_attributes};
use rdkafka::client::ClientContext;
use rdkafka::config::{FromClientConfig, FromClientConfigAndContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{OwnedHeaders, ToBytes};
use rdkafka::producer::future_producer::{Delivery, OwnedDeliveryResult};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::util::{AsyncRuntime, DefaultRuntime, Timeout};
use rdkafka::{ClientConfig, client::DefaultClientContext};

use crate::carrier::inject_replacing;
use crate::options::{Instrumentation, MessageHead, Options};
use crate::semconv::{
    SEND, destination, kafka_error_type, message_attributes, partition_id, span_name,
};

/// A [`FutureProducer`] that records a PRODUCER span `send {topic}` for every record, writes its
/// context into the record's headers, and ends it when the delivery report arrives.
///
/// `send` and `send_result` have the producer's own shape and return its results unchanged; every
/// other method is the producer's, through `Deref`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use rdkafka::ClientConfig;
/// use rdkafka::producer::FutureRecord;
/// use otel_kafka::TracedProducer;
///
/// let producer: TracedProducer = ClientConfig::new()
///     .set("bootstrap.servers", "127.0.0.1:9092")
///     .create()?;
/// producer
///     .send(FutureRecord::to("orders").key("42").payload("{}"), std::time::Duration::ZERO)
///     .await
///     .map_err(|(error, _message)| error)?;
/// # Ok(())
/// # }
/// ```
pub struct TracedProducer<C = DefaultClientContext, R = DefaultRuntime>
where
    C: ClientContext + 'static,
{
    producer: FutureProducer<C, R>,
    instrumentation: Arc<Instrumentation>,
}

impl<C: ClientContext + 'static, R> Clone for TracedProducer<C, R> {
    fn clone(&self) -> Self {
        TracedProducer {
            producer: self.producer.clone(),
            instrumentation: self.instrumentation.clone(),
        }
    }
}

impl<C: ClientContext + 'static, R> std::fmt::Debug for TracedProducer<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedProducer")
            .field("options", &self.instrumentation)
            .finish_non_exhaustive()
    }
}

impl<C: ClientContext + 'static, R> Deref for TracedProducer<C, R> {
    type Target = FutureProducer<C, R>;

    fn deref(&self) -> &Self::Target {
        &self.producer
    }
}

impl<R: AsyncRuntime> FromClientConfig for TracedProducer<DefaultClientContext, R> {
    /// A producer from `config`, traced with the default options (`client.id` and the first of
    /// `bootstrap.servers` recorded).
    fn from_config(config: &ClientConfig) -> KafkaResult<Self> {
        Ok(Self::with_options(
            config.create()?,
            Options::new().with_config(config),
        ))
    }
}

impl<C: ClientContext + 'static, R: AsyncRuntime> FromClientConfigAndContext<C>
    for TracedProducer<C, R>
{
    fn from_config_and_context(config: &ClientConfig, context: C) -> KafkaResult<Self> {
        Ok(Self::with_options(
            FutureProducer::from_config_and_context(config, context)?,
            Options::new().with_config(config),
        ))
    }
}

impl<C: ClientContext + 'static, R: AsyncRuntime> TracedProducer<C, R> {
    /// Traces `producer` with the default options.
    pub fn new(producer: FutureProducer<C, R>) -> Self {
        Self::with_options(producer, Options::new())
    }

    /// Traces `producer` with `options`.
    pub fn with_options(producer: FutureProducer<C, R>, options: Options) -> Self {
        TracedProducer {
            producer,
            instrumentation: options.build(),
        }
    }

    /// The producer underneath.
    pub fn inner(&self) -> &FutureProducer<C, R> {
        &self.producer
    }

    /// The producer underneath, untraced.
    pub fn into_inner(self) -> FutureProducer<C, R> {
        self.producer
    }

    /// [`FutureProducer::send`], traced: the span starts here, under the current context, and
    /// ends with the delivery report (or when the returned future is dropped).
    pub fn send<K, P, T>(
        &self,
        mut record: FutureRecord<'_, K, P>,
        queue_timeout: T,
    ) -> impl Future<Output = OwnedDeliveryResult>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
        T: Into<Timeout>,
    {
        let op = SendOp::start(&self.instrumentation, &mut record);
        let sent = self.producer.send(record, queue_timeout);
        async move {
            let result = sent.await;
            op.finish(result.as_ref().map_err(|(error, _)| error));
            result
        }
    }

    /// [`FutureProducer::send_result`], traced. A record that could not be queued (a full queue)
    /// ends its span with the error at once and comes back with the propagation headers written;
    /// sending it again starts a new span and replaces them.
    #[allow(clippy::result_large_err)] // The producer's own shape.
    pub fn send_result<'a, K, P>(
        &self,
        mut record: FutureRecord<'a, K, P>,
    ) -> Result<TracedDeliveryFuture, (KafkaError, FutureRecord<'a, K, P>)>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let op = SendOp::start(&self.instrumentation, &mut record);
        match self.producer.send_result(record) {
            Ok(delivery) => Ok(TracedDeliveryFuture {
                delivery,
                op: Some(op),
            }),
            Err((error, record)) => {
                op.finish(Err(&error));
                Err((error, record))
            }
        }
    }
}

impl TracedProducer {
    /// A producer created from `config`, traced with `options` (what they leave open is read
    /// from `config`: `client.id`, `bootstrap.servers`).
    pub fn from_config_with_options(config: &ClientConfig, options: Options) -> KafkaResult<Self> {
        Ok(Self::with_options(
            config.create()?,
            options.with_config(config),
        ))
    }
}

/// The delivery report of a record sent with [`TracedProducer::send_result`]: the producer's
/// [`DeliveryFuture`], whose completion ends the record's span.
#[must_use = "the span ends when the delivery report is awaited or this future is dropped"]
pub struct TracedDeliveryFuture {
    delivery: DeliveryFuture,
    op: Option<SendOp>,
}

impl std::fmt::Debug for TracedDeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedDeliveryFuture")
            .finish_non_exhaustive()
    }
}

impl Future for TracedDeliveryFuture {
    type Output = <DeliveryFuture as Future>::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let result = std::task::ready!(Pin::new(&mut this.delivery).poll(cx));
        if let Some(op) = this.op.take() {
            match &result {
                Ok(delivered) => op.finish(delivered.as_ref().map_err(|(error, _)| error)),
                Err(_) => op.finish(Err(&KafkaError::Canceled)),
            }
        }
        Poll::Ready(result)
    }
}

/// One record in flight: its span and what its metrics need.
#[derive(Debug)]
pub(crate) struct SendOp {
    instrumentation: Arc<Instrumentation>,
    op: MessagingSpan,
    /// `messaging.destination.name`, when metrics are on.
    destination: Option<KeyValue>,
}

impl SendOp {
    fn start<K, P>(
        instrumentation: &Arc<Instrumentation>,
        record: &mut FutureRecord<'_, K, P>,
    ) -> Self
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let head = MessageHead {
            topic: record.topic,
            partition: record.partition,
            offset: None,
            key: record.key.map(ToBytes::to_bytes),
            payload: record.payload.map(ToBytes::to_bytes),
        };
        Self::start_with(instrumentation, &head, &mut record.headers)
    }

    /// Starts the span of the record `head` describes and writes its context into `headers`.
    pub(crate) fn start_with(
        instrumentation: &Arc<Instrumentation>,
        head: &MessageHead<'_>,
        headers: &mut Option<OwnedHeaders>,
    ) -> Self {
        let options = &instrumentation.options;
        let metrics = instrumentation.instruments().is_some();
        let op = MessagingSpan::producer(
            options.traces.then(|| options.providers.tracer()),
            &Context::current(),
            metrics,
            || span_name(SEND, head.topic),
            || {
                let mut attributes = Vec::with_capacity(Instrumentation::SPAN_COMMON + 5);
                instrumentation.push_span_common(&mut attributes, SEND, false);
                message_attributes(&mut attributes, head, options.record_message_key);
                attributes
            },
        );
        if let (true, Some(hook)) = (op.is_recording(), &options.on_send) {
            hook(&op.context().span(), head);
        }
        let destination = metrics.then(|| destination(head.topic));

        // What goes into the headers: the send span's context (or the caller's, untraced), and
        // the caller's baggage unless the policy keeps it out of the topic.
        let user = headers.take();
        let inject_cx = op.context();
        *headers = Some(if options.strip_baggage {
            inject_headers(instrumentation, &inject_cx.with_cleared_baggage(), user)
        } else {
            inject_headers(instrumentation, inject_cx, user)
        });

        SendOp {
            instrumentation: instrumentation.clone(),
            op,
            destination,
        }
    }

    /// Ends the span and records the metrics with the delivery report.
    fn finish(self, result: Result<&Delivery, &KafkaError>) {
        self.finish_with(result.map(|delivery| (delivery.partition, delivery.offset)));
    }

    /// Ends the span and records the metrics with the delivery report: the partition and
    /// offset, or the error. (Dropped without it, the span ends without an outcome.)
    pub(crate) fn finish_with(mut self, result: Result<(i32, i64), &KafkaError>) {
        let error_type = result.err().map(kafka_error_type);
        if let (true, Ok((partition, offset))) = (self.op.is_recording(), result) {
            self.op.context().span().set_attributes([
                partition_id(partition),
                KeyValue::new(semconv::MESSAGING_KAFKA_OFFSET, offset),
            ]);
        }
        let instrumentation = &self.instrumentation;
        let destination = self.destination.take();
        self.op.end(
            error_type.map(Cow::Borrowed),
            instrumentation.instruments(),
            || {
                let partition = result.ok().map(|(partition, _)| partition_id(partition));
                metric_attributes(
                    &instrumentation.metric_common,
                    SEND,
                    destination.into_iter().chain(partition),
                    error_type,
                )
            },
        );
    }
}

/// The record's headers with `cx` written in, the propagation's stale fields (and a `baggage`
/// header, when stripped) replaced.
fn inject_headers(
    instrumentation: &Instrumentation,
    cx: &Context,
    headers: Option<OwnedHeaders>,
) -> OwnedHeaders {
    let options = &instrumentation.options;
    let extra: &[&str] = if options.strip_baggage {
        &[otel_propagation::baggage::BAGGAGE]
    } else {
        &[]
    };
    inject_replacing(&options.propagation, cx, headers, extra)
}
