//! [`TracedConsumer`]: process each message inside a CONSUMER span under its producer's context.

use std::any::Any;
use std::borrow::Cow;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_core::messaging::{
    MessagingInstruments, MessagingSpan, metric_attributes, operation_metric_attributes,
};
use rdkafka::ClientConfig;
use rdkafka::config::{FromClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::stream_consumer::MessageStream;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::util::Timeout;

use crate::carrier;
use crate::options::{Instrumentation, MessageHead, Options};
use crate::semconv::{
    POLL, PROCESS, RECEIVE, destination, handler_error_type, kafka_error_type, message_attributes,
    partition_id, span_name,
};

/// A consumer (a [`StreamConsumer`], a [`BaseConsumer`], or any other) whose messages are
/// processed inside CONSUMER spans `process {topic}`.
///
/// [`TracedConsumer::process`] and [`TracedConsumer::process_async`] run a handler under the
/// message's context: by default the span is a child of the producer's context the headers carry
/// (the trace continues across the hop) with a link to it; with
/// [`ConsumerParent::LinkOnly`](crate::ConsumerParent::LinkOnly) it starts under the current
/// context with the link only. [`TracedConsumer::receive`] records a batch. `recv`, `stream` and
/// `poll` count consumed messages. Every other method is the consumer's, through `Deref`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use rdkafka::ClientConfig;
/// use rdkafka::consumer::{Consumer, StreamConsumer};
/// use otel_kafka::TracedConsumer;
///
/// let consumer: TracedConsumer<StreamConsumer> = ClientConfig::new()
///     .set("bootstrap.servers", "127.0.0.1:9092")
///     .set("group.id", "workers")
///     .create()?;
/// consumer.subscribe(&["orders"])?;
/// loop {
///     let message = consumer.recv().await?;
///     consumer
///         .process_async(&message, |_cx| async {
///             // Spans started here are children of `process orders`.
///             Ok::<_, std::io::Error>(())
///         })
///         .await?;
/// }
/// # }
/// ```
pub struct TracedConsumer<C> {
    consumer: C,
    instrumentation: Arc<Instrumentation>,
}

impl<C> std::fmt::Debug for TracedConsumer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedConsumer")
            .field("options", &self.instrumentation)
            .finish_non_exhaustive()
    }
}

impl<C> Deref for TracedConsumer<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.consumer
    }
}

impl<C: FromClientConfig> FromClientConfig for TracedConsumer<C> {
    /// A consumer from `config`, traced with the default options (`client.id`, `group.id` and
    /// the first of `bootstrap.servers` recorded).
    fn from_config(config: &ClientConfig) -> KafkaResult<Self> {
        Ok(Self::with_options(
            C::from_config(config)?,
            Options::new().with_config(config),
        ))
    }
}

impl<X, C: FromClientConfigAndContext<X>> FromClientConfigAndContext<X> for TracedConsumer<C>
where
    X: rdkafka::ClientContext,
{
    fn from_config_and_context(config: &ClientConfig, context: X) -> KafkaResult<Self> {
        Ok(Self::with_options(
            C::from_config_and_context(config, context)?,
            Options::new().with_config(config),
        ))
    }
}

impl<C> TracedConsumer<C> {
    /// Traces `consumer` with the default options.
    pub fn new(consumer: C) -> Self {
        Self::with_options(consumer, Options::new())
    }

    /// Traces `consumer` with `options`.
    pub fn with_options(consumer: C, options: Options) -> Self {
        TracedConsumer {
            consumer,
            instrumentation: options.build(),
        }
    }

    /// A consumer created from `config`, traced with `options` (what they leave open is read
    /// from `config`: `client.id`, `group.id`, `bootstrap.servers`).
    pub fn from_config_with_options(config: &ClientConfig, options: Options) -> KafkaResult<Self>
    where
        C: FromClientConfig,
    {
        Ok(Self::with_options(
            C::from_config(config)?,
            options.with_config(config),
        ))
    }

    /// The consumer underneath.
    pub fn inner(&self) -> &C {
        &self.consumer
    }

    /// The consumer underneath, untraced.
    pub fn into_inner(self) -> C {
        self.consumer
    }

    /// The context `message` carries (its producer's span, its baggage), extracted on top of the
    /// current context, without starting a span.
    pub fn extract<M: Message>(&self, message: &M) -> Context {
        carrier::extract(
            &self.instrumentation.options.propagation,
            &Context::current(),
            message.headers(),
        )
    }

    /// Runs `handler` inside a CONSUMER span `process {topic}` for `message`, with the span's
    /// context current and handed to it. An `Err` sets `error.type` (a Kafka error's code name,
    /// an I/O error's kind, else `_OTHER`) and error status; the result is returned unchanged.
    pub fn process<M, T, E, F>(&self, message: &M, handler: F) -> Result<T, E>
    where
        M: Message,
        E: 'static,
        F: FnOnce(&Context) -> Result<T, E>,
    {
        let instrumentation = &*self.instrumentation;
        let op = ProcessOp::start(instrumentation, message);
        let result = {
            let _current = op.op.context().clone().attach();
            handler(op.op.context())
        };
        op.finish(
            instrumentation,
            result.as_ref().err().map(|e| e as &dyn Any),
        );
        result
    }

    /// [`TracedConsumer::process`] for an async handler: the span starts now, the handler's
    /// future is polled under its context, and the span ends when that future completes (or is
    /// dropped).
    pub fn process_async<M, T, E, F, Fut>(&self, message: &M, handler: F) -> ProcessFuture<Fut>
    where
        M: Message,
        E: 'static,
        F: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let op = ProcessOp::start(&self.instrumentation, message);
        let cx = op.op.context().clone();
        // The handler's synchronous part (before its future) runs under the context too.
        let handler = {
            let _guard = cx.clone().attach();
            handler(cx.clone())
        };
        ProcessFuture {
            handler: handler.with_context(cx),
            op: Some((self.instrumentation.clone(), op)),
        }
    }

    /// Starts a `receive {topic}` span for a batch of messages already received, with a link to
    /// each message's producer context and `messaging.batch.message_count`. Process the messages
    /// under it (attach [`Receive::context`]); with `ConsumerParent::LinkOnly` their `process`
    /// spans are its children. It ends when dropped.
    pub fn receive<M: Message>(&self, messages: &[M]) -> Receive {
        let instrumentation = &self.instrumentation;
        let options = &instrumentation.options;
        let current = Context::current();
        if !options.traces {
            return Receive {
                cx: current,
                owns_span: false,
            };
        }
        let topic = messages.first().map(Message::topic);
        let one_topic = topic.filter(|t| messages.iter().all(|m| m.topic() == *t));
        let links = messages
            .iter()
            .filter_map(|message| {
                let producer =
                    carrier::extract(&options.propagation, &Context::new(), message.headers());
                let span_context = producer.span().span_context().clone();
                span_context
                    .is_valid()
                    .then(|| opentelemetry::trace::Link::with_context(span_context))
            })
            .collect();
        // `receive` is a CLIENT span in the messaging conventions (only `process` is CONSUMER).
        let (span, _) = otel_core::start_span(
            options.providers.tracer(),
            SpanKind::Client,
            &current,
            links,
            || match one_topic {
                Some(topic) => span_name(RECEIVE, topic),
                None => RECEIVE.into(),
            },
            || {
                let mut attributes = Vec::with_capacity(Instrumentation::SPAN_COMMON + 2);
                instrumentation.push_span_common(&mut attributes, RECEIVE, true);
                attributes.push(KeyValue::new(
                    semconv::MESSAGING_BATCH_MESSAGE_COUNT,
                    messages.len() as i64,
                ));
                if let Some(topic) = one_topic {
                    attributes.push(destination(topic));
                }
                attributes
            },
        );
        Receive {
            cx: current.with_span(span),
            owns_span: true,
        }
    }
}

impl<C: ConsumerContext + 'static, R> TracedConsumer<StreamConsumer<C, R>> {
    /// [`StreamConsumer::recv`], counted: `messaging.client.operation.duration` (operation
    /// `receive`) and `messaging.client.consumed.messages`.
    pub fn recv(&self) -> impl Future<Output = KafkaResult<BorrowedMessage<'_>>> + '_ {
        // A plain future rather than an `async fn`: one poll-through layer, and the clock read
        // only when metrics are on (for the histogram).
        TimedRecv {
            inner: self.consumer.recv(),
            timer: self
                .instrumentation
                .instruments()
                .map(|instruments| (&*self.instrumentation, instruments, Instant::now())),
        }
    }

    /// [`StreamConsumer::stream`], counted as [`TracedConsumer::recv`] counts.
    pub fn stream(&self) -> TracedMessageStream<'_, C> {
        TracedMessageStream {
            inner: self.consumer.stream(),
            instrumentation: &self.instrumentation,
            started: None,
        }
    }
}

/// The messages of a `StreamConsumer`, from [`TracedConsumer::stream`]: each one counted in
/// `messaging.client.consumed.messages`, each wait for one timed in
/// `messaging.client.operation.duration`.
pub struct TracedMessageStream<'a, C: ConsumerContext + 'static> {
    inner: MessageStream<'a, C>,
    instrumentation: &'a Instrumentation,
    started: Option<Instant>,
}

pin_project_lite::pin_project! {
    /// [`TracedConsumer::recv`]'s future: the consumer's, timed when metrics are on.
    struct TimedRecv<'a, F> {
        #[pin]
        inner: F,
        timer: Option<(&'a Instrumentation, &'a MessagingInstruments, Instant)>,
    }
}

impl<'a, F, M> Future for TimedRecv<'a, F>
where
    F: Future<Output = KafkaResult<M>>,
    M: Message,
{
    type Output = KafkaResult<M>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some((instrumentation, instruments, started)) = this.timer.take() {
            record_receive(
                instrumentation,
                instruments,
                RECEIVE,
                started,
                Some(&result),
            );
        }
        Poll::Ready(result)
    }
}

impl<C: ConsumerContext + 'static> std::fmt::Debug for TracedMessageStream<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedMessageStream")
            .finish_non_exhaustive()
    }
}

impl<'a, C: ConsumerContext + 'static> Stream for TracedMessageStream<'a, C> {
    type Item = KafkaResult<BorrowedMessage<'a>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(instruments) = this.instrumentation.instruments() else {
            return Pin::new(&mut this.inner).poll_next(cx);
        };
        let started = *this.started.get_or_insert_with(Instant::now);
        let item = std::task::ready!(Pin::new(&mut this.inner).poll_next(cx));
        this.started = None;
        if let Some(result) = &item {
            record_receive(
                this.instrumentation,
                instruments,
                RECEIVE,
                started,
                Some(result),
            );
        }
        Poll::Ready(item)
    }
}

impl<C: ConsumerContext + 'static> TracedConsumer<BaseConsumer<C>> {
    /// [`BaseConsumer::poll`], counted: `messaging.client.operation.duration` (operation
    /// `poll`) and `messaging.client.consumed.messages`.
    pub fn poll<T: Into<Timeout>>(&self, timeout: T) -> Option<KafkaResult<BorrowedMessage<'_>>> {
        let Some(instruments) = self.instrumentation.instruments() else {
            return self.consumer.poll(timeout);
        };
        let started = Instant::now();
        let result = self.consumer.poll(timeout);
        if result.is_some() {
            record_receive(
                &self.instrumentation,
                instruments,
                POLL,
                started,
                result.as_ref(),
            );
        }
        result
    }
}

pin_project_lite::pin_project! {
    /// A handler's future run by [`TracedConsumer::process_async`]: polled under the message's
    /// context; its completion ends the `process` span.
    #[must_use = "futures do nothing unless polled"]
    pub struct ProcessFuture<Fut> {
        #[pin]
        handler: WithContext<Fut>,
        op: Option<(Arc<Instrumentation>, ProcessOp)>,
    }
}

impl<Fut> std::fmt::Debug for ProcessFuture<Fut> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessFuture").finish_non_exhaustive()
    }
}

impl<T, E: 'static, Fut: Future<Output = Result<T, E>>> Future for ProcessFuture<Fut> {
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.handler.poll(cx));
        if let Some((instrumentation, op)) = this.op.take() {
            op.finish(
                &instrumentation,
                result.as_ref().err().map(|e| e as &dyn Any),
            );
        }
        Poll::Ready(result)
    }
}

/// A batch's `receive` span, from [`TracedConsumer::receive`]; it ends when dropped.
#[derive(Debug)]
pub struct Receive {
    cx: Context,
    /// Whether the span in `cx` is the receive span (traces on), not the caller's.
    owns_span: bool,
}

impl Receive {
    /// The current context with the `receive` span (the current context alone when traces are
    /// off).
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Ends the span now.
    pub fn end(self) {}
}

impl Drop for Receive {
    fn drop(&mut self) {
        if self.owns_span {
            self.cx.span().end();
        }
    }
}

/// One message being processed: its span, what its metric needs.
struct ProcessOp {
    op: MessagingSpan,
    /// `messaging.destination.name` and the partition, when metrics are on (the partition id's
    /// attribute is made at the end: a smaller struct to move around).
    metric: Option<(KeyValue, i32)>,
}

impl ProcessOp {
    fn start<M: Message>(instrumentation: &Instrumentation, message: &M) -> Self {
        let options = &instrumentation.options;
        // Extracted on top of the current context, borrowed rather than cloned (the link-only
        // parent takes its own clone).
        let extracted = Context::map_current(|current| {
            carrier::extract(&options.propagation, current, message.headers())
        });
        let head = MessageHead {
            topic: message.topic(),
            partition: Some(message.partition()),
            offset: Some(message.offset()),
            key: message.key(),
            payload: message.payload(),
        };
        let metric = instrumentation
            .instruments()
            .map(|_| (destination(head.topic), message.partition()));
        let op = MessagingSpan::consumer_in_current(
            options.traces.then(|| options.providers.tracer()),
            extracted,
            options.consumer_parent,
            metric.is_some(),
            || span_name(PROCESS, head.topic),
            || {
                let mut attributes = Vec::with_capacity(Instrumentation::SPAN_COMMON + 5);
                instrumentation.push_span_common(&mut attributes, PROCESS, true);
                message_attributes(&mut attributes, &head, options.record_message_key);
                attributes
            },
        );
        if let (true, Some(hook)) = (op.is_recording(), &options.on_process) {
            hook(&op.context().span(), &head);
        }
        ProcessOp { op, metric }
    }

    /// Ends the span and records the metric. (Dropped without it, the span ends without an
    /// outcome.)
    fn finish(mut self, instrumentation: &Instrumentation, error: Option<&dyn Any>) {
        let error_type = error.map(handler_error_type);
        let metric = self.metric.take();
        self.op.end(
            error_type.map(Cow::Borrowed),
            instrumentation.instruments(),
            || {
                let (topic, partition) = metric.unzip();
                let partition = partition.map(partition_id);
                metric_attributes(
                    &instrumentation.metric_common,
                    PROCESS,
                    instrumentation
                        .group()
                        .into_iter()
                        .chain(topic)
                        .chain(partition),
                    error_type,
                )
            },
        );
    }
}

/// Records one receive operation: its duration, and the message delivered (or the error).
fn record_receive<M: Message>(
    instrumentation: &Instrumentation,
    instruments: &MessagingInstruments,
    operation: &'static str,
    started: Instant,
    result: Option<&KafkaResult<M>>,
) {
    let elapsed = started.elapsed().as_secs_f64();
    let (delivered, error_type) = match result {
        Some(Ok(message)) => (
            Some([
                destination(message.topic()),
                partition_id(message.partition()),
            ]),
            None,
        ),
        Some(Err(error)) => (None, Some(kafka_error_type(error))),
        None => (None, None),
    };
    let consumed = delivered.is_some();
    let attributes = operation_metric_attributes(
        &instrumentation.metric_common,
        operation,
        RECEIVE,
        instrumentation
            .group()
            .into_iter()
            .chain(delivered.into_iter().flatten()),
        error_type,
    );
    instruments.operation_duration.record(elapsed, &attributes);
    if consumed {
        instruments.consumed_messages.add(1, &attributes);
    }
}
