//! Redis as a message transport: PRODUCER `send {destination}` spans around `XADD` and
//! `PUBLISH`, CONSUMER `process {destination}` spans around the handling of a stream entry or a
//! Pub/Sub message, modelled as otel-kafka's (parent and links from `otel_core::messaging`).

use std::borrow::Cow;
use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, ContextGuard, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_core::messaging::consumer_parent;

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
    cx: Context,
    recording: bool,
    started: Option<Instant>,
    destination: String,
}

impl<'c> Producer<'c> {
    /// Starts `send {destination}` under `parent`.
    pub(crate) fn start(config: &'c Config, parent: &Context, destination: &str) -> Self {
        let destination = destination_value(destination);
        let (cx, recording) = if config.traces {
            let (span, recording) = otel_core::start_span(
                config.providers.tracer(),
                SpanKind::Producer,
                parent,
                Vec::new(),
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
            (parent.with_span(span), recording)
        } else {
            (parent.clone(), false)
        };
        Producer {
            config,
            cx,
            recording,
            started: config.metrics.then(Instant::now),
            destination,
        }
    }

    /// The context the message carries (the PRODUCER span's, when there is one).
    pub(crate) fn context(&self) -> &Context {
        &self.cx
    }

    /// The propagators' fields for this message.
    pub(crate) fn fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        self.config.propagation.inject(
            &self.cx,
            &mut crate::streams::StreamFieldsInjector(&mut fields),
        );
        fields
    }

    /// Ends the span: the message id the server gave, or the failure.
    pub(crate) fn end(self, message_id: Option<String>, failure: Option<&Failure>) {
        if self.config.traces {
            let span = self.cx.span();
            if self.recording {
                if let Some(id) = message_id {
                    span.set_attribute(KeyValue::new(semconv::MESSAGING_MESSAGE_ID, id));
                }
                if let Some(failure) = failure {
                    let error_type = failure.error_type();
                    span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type.clone()));
                    span.set_status(Status::error(error_type));
                }
            }
            span.end();
        }
        if let Some(started) = self.started {
            let instruments = self.config.instruments().messaging();
            let mut attributes = vec![
                KeyValue::new(semconv::MESSAGING_SYSTEM, REDIS),
                KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, self.destination),
                KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, SEND),
                KeyValue::new(semconv::MESSAGING_OPERATION_NAME, SEND),
            ];
            if let Some(address) = &self.config.server_address {
                attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, address.clone()));
            }
            if let Some(port) = self.config.server_port {
                attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
            }
            if let Some(failure) = failure {
                attributes.push(KeyValue::new(
                    semconv::ERROR_TYPE,
                    failure.metric_error_type(),
                ));
            }
            instruments
                .operation_duration
                .record(started.elapsed().as_secs_f64(), &attributes);
            instruments.sent_messages.add(1, &attributes);
        }
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
    cx: Context,
    recording: bool,
    started: Option<Instant>,
    destination: String,
    group: Option<String>,
    error_type: Option<Cow<'static, str>>,
}

impl std::fmt::Debug for Processing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processing")
            .field("destination", &self.destination)
            .field("recording", &self.recording)
            .finish_non_exhaustive()
    }
}

impl Processing {
    /// Starts processing a message whose carrier gave `extracted`.
    pub(crate) fn start(config: Arc<Config>, extracted: Context, delivery: Delivery<'_>) -> Self {
        let destination = destination_value(delivery.destination);
        let group = delivery.group.map(destination_value);
        let (cx, recording) = Context::map_current(|current| {
            let (parent, links) = consumer_parent(current, extracted, config.consumer_parent);
            if !config.traces {
                return (parent, false);
            }
            let (span, recording) = otel_core::start_span(
                config.providers.tracer(),
                SpanKind::Consumer,
                &parent,
                links,
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
            // The consumer's own context stays underneath (its baggage, say) only in link mode;
            // by default the producer's context is the parent.
            (parent.with_span(span), recording)
        });
        let started = config.metrics.then(Instant::now);
        if config.metrics {
            let attributes = metric_attributes(&config, &destination, group.as_deref(), None);
            config
                .instruments()
                .messaging()
                .consumed_messages
                .add(1, &attributes);
        }
        Processing {
            config,
            cx,
            recording,
            started,
            destination,
            group,
            error_type: None,
        }
    }

    /// The context to handle the message under: the `process` span's.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Makes [`Processing::context`] current until the guard drops.
    pub fn attach(&self) -> ContextGuard {
        self.cx.clone().attach()
    }

    /// Records that handling failed with `error` (`error.type` from its source chain).
    pub fn record_error(&mut self, error: &(dyn Error + 'static)) {
        self.error_type = Some(Cow::Borrowed(otel_core::error_type(error)));
    }

    /// Records that handling failed, with this `error.type` (a low-cardinality class name).
    pub fn record_error_type(&mut self, error_type: &'static str) {
        self.error_type = Some(Cow::Borrowed(error_type));
    }

    /// Ends the span and records the duration (as dropping does).
    pub fn end(self) {}
}

impl Drop for Processing {
    fn drop(&mut self) {
        if self.config.traces {
            let span = self.cx.span();
            if let (true, Some(error_type)) = (self.recording, &self.error_type) {
                span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type.clone()));
                span.set_status(Status::error(error_type.clone()));
            }
            span.end();
        }
        if let Some(started) = self.started {
            let attributes = metric_attributes(
                &self.config,
                &self.destination,
                self.group.as_deref(),
                self.error_type.as_deref(),
            );
            self.config
                .instruments()
                .messaging()
                .process_duration
                .record(started.elapsed().as_secs_f64(), &attributes);
        }
    }
}

fn metric_attributes(
    config: &Config,
    destination: &str,
    group: Option<&str>,
    error_type: Option<&str>,
) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new(semconv::MESSAGING_SYSTEM, REDIS),
        KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, destination.to_owned()),
        KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, PROCESS),
        KeyValue::new(semconv::MESSAGING_OPERATION_NAME, PROCESS),
    ];
    if let Some(group) = group {
        attributes.push(KeyValue::new(
            semconv::MESSAGING_CONSUMER_GROUP_NAME,
            group.to_owned(),
        ));
    }
    if let Some(address) = &config.server_address {
        attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, address.clone()));
    }
    if let Some(error_type) = error_type {
        attributes.push(KeyValue::new(semconv::ERROR_TYPE, error_type.to_owned()));
    }
    attributes
}
