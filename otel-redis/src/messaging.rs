//! Redis as a message transport: PRODUCER `send {destination}` spans around `XADD` and
//! `PUBLISH`, CONSUMER `process {destination}` spans around the handling of a stream entry or a
//! Pub/Sub message, modelled as otel-kafka's (both through `otel_core::messaging::MessagingSpan`).

use std::borrow::Cow;
use std::error::Error;
use std::sync::Arc;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_core::messaging::{MessagingSpan, metric_attributes};

use crate::options::Config;
use crate::semconv::{Failure, REDIS};

/// `messaging.operation.type` of a producer's span.
const SEND: &str = "send";
/// `messaging.operation.type` of a consumer's span.
const PROCESS: &str = "process";

fn destination_value(destination: &str) -> String {
    // A destination name is caller data: keep attribute sizes bounded.
    let mut cut = destination.len().min(256);
    while !destination.is_char_boundary(cut) {
        cut -= 1;
    }
    destination[..cut].to_owned()
}

/// A message being sent: the PRODUCER span (when traces are on) and the context to inject.
pub(crate) struct Producer<'c> {
    config: &'c Config,
    op: MessagingSpan,
}

impl<'c> Producer<'c> {
    /// Starts `send {destination}` under `parent`.
    pub(crate) fn start(config: &'c Config, parent: &Context, destination: &str) -> Self {
        let destination = destination_value(destination);
        let op = MessagingSpan::producer(
            config.traces.then(|| config.providers.tracer()),
            parent,
            config.metrics,
            || Cow::Owned(format!("{SEND} {destination}")),
            || {
                vec![
                    KeyValue::new(semconv::MESSAGING_SYSTEM, REDIS),
                    KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, destination.clone()),
                    KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, SEND),
                    KeyValue::new(semconv::MESSAGING_OPERATION_NAME, SEND),
                ]
            },
        );
        Producer { config, op }
    }

    /// The context the message carries (the PRODUCER span's, when there is one).
    pub(crate) fn context(&self) -> &Context {
        self.op.context()
    }

    /// The propagators' fields for this message.
    pub(crate) fn fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        let mut injector = crate::streams::StreamFieldsInjector(&mut fields);
        if self.config.strip_baggage {
            let cx = self.op.context().with_cleared_baggage();
            self.config.propagation.inject(&cx, &mut injector);
        } else {
            self.config
                .propagation
                .inject(self.op.context(), &mut injector);
        }
        fields
    }

    /// Ends the span: the message id the server gave, or the failure.
    pub(crate) fn end(mut self, message_id: Option<String>, failure: Option<&Failure>) {
        if let (true, Some(id)) = (self.op.is_recording(), message_id) {
            self.op
                .context()
                .span()
                .set_attribute(KeyValue::new(semconv::MESSAGING_MESSAGE_ID, id));
        }
        let config = self.config;
        self.op.end(
            failure.map(Failure::error_type),
            config.metrics.then(|| config.instruments().messaging()),
            || {
                // No stream or channel name: they are often one per user or entity, and the
                // conventions put `messaging.destination.name` on metrics only when it is
                // known to have few values.
                let mut attributes = metric_attributes(
                    &[KeyValue::new(semconv::MESSAGING_SYSTEM, REDIS)],
                    SEND,
                    [],
                    failure.map(Failure::metric_error_type),
                );
                config.push_server(&mut attributes);
                attributes
            },
        );
    }
}

/// What a consumer's `process` span is started from.
pub(crate) struct Delivery<'a> {
    /// The stream or channel (the pattern, for a pattern subscription).
    pub(crate) destination: &'a str,
    /// The stream entry id.
    pub(crate) message_id: Option<&'a str>,
    /// The consumer group, for `XREADGROUP`.
    pub(crate) group: Option<&'a str>,
    /// The payload size, for Pub/Sub.
    pub(crate) body_size: Option<usize>,
}

/// The handling of one received stream entry or Pub/Sub message: a CONSUMER `process
/// {destination}` span, a child of the producer's context (or linked to it, see
/// [`OtelRedis::consumer_parent`](crate::OtelRedis::consumer_parent)), and
/// `messaging.process.duration`. Ends when dropped or at [`Processing::end`].
///
/// Run the handler under [`Processing::context`] (or [`Processing::attach`]) so that its own
/// spans, and the Redis commands it sends, become children of the `process` span.
#[must_use = "the span ends when this is dropped"]
pub struct Processing {
    config: Arc<Config>,
    op: MessagingSpan,
    destination: String,
    group: Option<String>,
    error_type: Option<&'static str>,
}

impl std::fmt::Debug for Processing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processing")
            .field("destination", &self.destination)
            .field("recording", &self.op.is_recording())
            .finish_non_exhaustive()
    }
}

impl Processing {
    /// Starts processing a message whose carrier gave `extracted`.
    pub(crate) fn start(config: Arc<Config>, extracted: Context, delivery: Delivery<'_>) -> Self {
        let destination = destination_value(delivery.destination);
        let group = delivery.group.map(destination_value);
        // The consumer's own context stays underneath (its baggage, say) only in link mode; by
        // default the producer's context is the parent.
        let op = MessagingSpan::consumer_in_current(
            config.traces.then(|| config.providers.tracer()),
            extracted,
            config.consumer_parent,
            config.metrics,
            || Cow::Owned(format!("{PROCESS} {destination}")),
            || {
                let mut attributes = vec![
                    KeyValue::new(semconv::MESSAGING_SYSTEM, REDIS),
                    KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, destination.clone()),
                    KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, PROCESS),
                    KeyValue::new(semconv::MESSAGING_OPERATION_NAME, PROCESS),
                ];
                if let Some(id) = delivery.message_id {
                    attributes.push(KeyValue::new(
                        semconv::MESSAGING_MESSAGE_ID,
                        destination_value(id),
                    ));
                }
                if let Some(group) = &group {
                    attributes.push(KeyValue::new(
                        semconv::MESSAGING_CONSUMER_GROUP_NAME,
                        group.clone(),
                    ));
                }
                if let Some(size) = delivery.body_size {
                    attributes.push(KeyValue::new(
                        semconv::MESSAGING_MESSAGE_BODY_SIZE,
                        i64::try_from(size).unwrap_or(i64::MAX),
                    ));
                }
                config.push_server_attributes(&mut attributes);
                attributes
            },
        );
        if config.metrics {
            let attributes = process_metric_attributes(&config, group.as_deref(), None);
            config
                .instruments()
                .messaging()
                .consumed_messages
                .add(1, &attributes);
        }
        Processing {
            config,
            op,
            destination,
            group,
            error_type: None,
        }
    }

    /// The context to handle the message under: the `process` span's.
    pub fn context(&self) -> &Context {
        self.op.context()
    }

    /// Makes [`Processing::context`] current until the guard drops.
    pub fn attach(&self) -> ContextGuard {
        self.op.context().clone().attach()
    }

    /// Records that handling failed with `error` (`error.type` from its source chain).
    pub fn record_error(&mut self, error: &(dyn Error + 'static)) {
        self.error_type = Some(otel_core::error_type(error));
    }

    /// Records that handling failed, with this `error.type` (a low-cardinality class name).
    pub fn record_error_type(&mut self, error_type: &'static str) {
        self.error_type = Some(error_type);
    }

    /// Ends the span and records the duration (as dropping does).
    pub fn end(self) {}
}

impl Drop for Processing {
    fn drop(&mut self) {
        let error_type = self.error_type;
        let config = &self.config;
        let group = self.group.as_deref();
        self.op.end(
            error_type.map(Cow::Borrowed),
            config.metrics.then(|| config.instruments().messaging()),
            || process_metric_attributes(config, group, error_type),
        );
    }
}

/// The metric attributes of `process` (and of the consumed-messages count).
fn process_metric_attributes(
    config: &Config,
    group: Option<&str>,
    error_type: Option<&'static str>,
) -> Vec<KeyValue> {
    let group =
        group.map(|group| KeyValue::new(semconv::MESSAGING_CONSUMER_GROUP_NAME, group.to_owned()));
    // As on `send`: no stream or channel name on metrics.
    let mut attributes = metric_attributes(
        &[KeyValue::new(semconv::MESSAGING_SYSTEM, REDIS)],
        PROCESS,
        group,
        error_type,
    );
    config.push_server(&mut attributes);
    attributes
}
