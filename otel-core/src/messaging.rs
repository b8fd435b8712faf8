//! What messaging instrumentation shares, whatever carries the messages (Kafka records, Redis
//! stream entries, Pub/Sub envelopes): the consumer span's parent and links, and the messaging
//! metric instruments of the semantic conventions.

use opentelemetry::Context;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::trace::{Link, TraceContextExt};
use opentelemetry_semantic_conventions::metric;

/// How a consumer's span relates to the context a message carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumerParent {
    /// A child of the producer's context, with a link to it too: the trace continues across the
    /// hop (the default; what single-message processing calls for).
    #[default]
    Producer,
    /// A new trace (under the consumer's current context, if any) with only a link to the
    /// producer's context: for consumers that must not join producers' traces.
    LinkOnly,
}

/// The parent and links of a consumer span for a message whose carrier gave `extracted` (the
/// context extracted on top of `current`).
pub fn consumer_parent(
    current: &Context,
    extracted: Context,
    mode: ConsumerParent,
) -> (Context, Vec<Link>) {
    let producer = extracted.span().span_context().clone();
    if !producer.is_valid() {
        return (extracted, Vec::new());
    }
    let links = vec![Link::with_context(producer)];
    match mode {
        ConsumerParent::Producer => (extracted, links),
        ConsumerParent::LinkOnly => (current.clone(), links),
    }
}

/// The bucket boundaries the messaging conventions advise for their duration histograms, seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The messaging metric instruments, created once per instrumentation.
#[derive(Clone, Debug)]
pub struct MessagingInstruments {
    /// `messaging.client.operation.duration`, seconds.
    pub operation_duration: Histogram<f64>,
    /// `messaging.process.duration`, seconds.
    pub process_duration: Histogram<f64>,
    /// `messaging.client.sent.messages`.
    pub sent_messages: Counter<u64>,
    /// `messaging.client.consumed.messages`.
    pub consumed_messages: Counter<u64>,
}

impl MessagingInstruments {
    /// Creates the instruments on `meter`.
    pub fn new(meter: &Meter) -> Self {
        MessagingInstruments {
            operation_duration: meter
                .f64_histogram(metric::MESSAGING_CLIENT_OPERATION_DURATION)
                .with_unit("s")
                .with_description(
                    "Duration of messaging operation initiated by a producer or consumer client.",
                )
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            process_duration: meter
                .f64_histogram(metric::MESSAGING_PROCESS_DURATION)
                .with_unit("s")
                .with_description("Duration of processing operation.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            sent_messages: meter
                .u64_counter(metric::MESSAGING_CLIENT_SENT_MESSAGES)
                .with_unit("{message}")
                .with_description("Number of messages producer attempted to send to the broker.")
                .build(),
            consumed_messages: meter
                .u64_counter(metric::MESSAGING_CLIENT_CONSUMED_MESSAGES)
                .with_unit("{message}")
                .with_description("Number of messages that were delivered to the application.")
                .build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    fn producer() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn the_default_continues_the_trace_and_links() {
        let (parent, links) =
            consumer_parent(&Context::new(), producer(), ConsumerParent::Producer);
        assert_eq!(parent.span().span_context().trace_id(), TraceId::from(7));
        assert_eq!(links.len(), 1);
    }

    #[test]
    fn link_only_keeps_the_current_context() {
        let (parent, links) =
            consumer_parent(&Context::new(), producer(), ConsumerParent::LinkOnly);
        assert!(!parent.span().span_context().is_valid());
        assert_eq!(links[0].span_context.trace_id(), TraceId::from(7));
    }

    #[test]
    fn no_producer_context_no_link() {
        let (parent, links) =
            consumer_parent(&Context::new(), Context::new(), ConsumerParent::Producer);
        assert!(!parent.span().span_context().is_valid());
        assert!(links.is_empty());
    }
}
