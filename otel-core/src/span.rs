//! [`start_span`]: a span start that builds what only a recorded span needs only when it records.

use std::borrow::Cow;

use opentelemetry::Context;
use opentelemetry::KeyValue;
use opentelemetry::global::{BoxedSpan, BoxedTracer};
use opentelemetry::trace::{Link, Span, SpanKind, TraceContextExt, Tracer};

/// Starts a span of `kind` under `parent` and returns it with whether it records.
///
/// When it is likely to record (the parent is sampled, or there is none), `name` and `attributes`
/// go to the sampler up front and move into the span whole. Under a parent that was not sampled
/// neither is built, unless the sampler records the span after all; then they are set on it.
pub fn start_span(
    tracer: &BoxedTracer,
    kind: SpanKind,
    parent: &Context,
    links: Vec<Link>,
    name: impl FnOnce() -> Cow<'static, str>,
    attributes: impl FnOnce() -> Vec<KeyValue>,
) -> (BoxedSpan, bool) {
    let parent_span = parent.span();
    let parent_context = parent_span.span_context();
    let likely_recorded = !parent_context.is_valid() || parent_context.is_sampled();
    let (mut builder, late) = if likely_recorded {
        // Set in place: `with_attributes` would move the builder and re-collect the list.
        let mut builder = tracer.span_builder(name());
        builder.attributes = Some(attributes());
        (builder, None)
    } else {
        (tracer.span_builder(""), Some((name, attributes)))
    };
    builder.span_kind = Some(kind);
    if !links.is_empty() {
        builder.links = Some(links);
    }
    let mut span = builder.start_with_context(tracer, parent);
    let recorded = span.is_recording();
    if let (true, Some((name, attributes))) = (recorded, late) {
        span.update_name(name());
        span.set_attributes(attributes());
    }
    (span, recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceFlags, TraceId, TraceState, TracerProvider,
    };
    use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};

    fn remote(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(1),
            SpanId::from(2),
            flags,
            true,
            TraceState::default(),
        ))
    }

    fn tracer(sampler: Sampler) -> (BoxedTracer, InMemorySpanExporter, SdkTracerProvider) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = BoxedTracer::new(Box::new(provider.tracer("t")));
        (tracer, exporter, provider)
    }

    #[test]
    fn an_unsampled_parent_builds_nothing() {
        let (tracer, exporter, _provider) =
            tracer(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let (mut span, recorded) = start_span(
            &tracer,
            SpanKind::Consumer,
            &remote(false),
            Vec::new(),
            || panic!("name built for a span that does not record"),
            || panic!("attributes built for a span that does not record"),
        );
        span.end();
        assert!(!recorded);
        assert!(exporter.get_finished_spans().unwrap().is_empty());
    }

    #[test]
    fn a_sampler_that_records_anyway_gets_the_name_and_attributes() {
        let (tracer, exporter, _provider) = tracer(Sampler::AlwaysOn);
        let (mut span, recorded) = start_span(
            &tracer,
            SpanKind::Producer,
            &remote(false),
            vec![Link::with_context(
                remote(true).span().span_context().clone(),
            )],
            || "send orders".into(),
            || vec![KeyValue::new("messaging.system", "kafka")],
        );
        span.end();
        assert!(recorded);
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans[0].name, "send orders");
        assert_eq!(
            spans[0].attributes,
            vec![KeyValue::new("messaging.system", "kafka")]
        );
        assert_eq!(spans[0].links.len(), 1);
        assert_eq!(spans[0].span_kind, SpanKind::Producer);
    }
}
