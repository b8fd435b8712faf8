//! Kafka record headers as an OpenTelemetry carrier: [`HeaderInjector`] writes a context into
//! [`OwnedHeaders`], [`HeaderExtractor`] reads one from any [`Headers`].

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use otel_core::Propagation;
use rdkafka::message::{Header, Headers, OwnedHeaders};

/// The header at `index`, or `None` when there is none or it cannot be read.
///
/// rdkafka's `try_get` unwraps the key's UTF-8 check, and a broker hands over whatever key bytes a
/// producer wrote: a header with a non-UTF-8 key would panic there. It is skipped instead.
fn header_at<H: Headers + ?Sized>(headers: &H, index: usize) -> Option<Header<'_, &[u8]>> {
    catch_unwind(AssertUnwindSafe(|| headers.try_get(index)))
        .ok()
        .flatten()
}

/// Reads propagation headers from Kafka record headers, borrowed (a consumed message's) or
/// owned.
///
/// - Keys match ASCII case-insensitively, so `X-B3-TraceId` written by other languages'
///   instrumentation is read as `x-b3-traceid`.
/// - Values are bytes on the wire: null values and values that are not UTF-8 are skipped (the
///   propagators accept only ASCII anyway); a header whose key is not UTF-8 is skipped too.
/// - A repeated key: [`Extractor::get`] returns the first readable value, [`Extractor::get_all`]
///   every readable value in record order, exactly as the `http::HeaderMap` carriers do. So a
///   repeated `traceparent` yields no context (W3C: a repeated `traceparent` is invalid), and
///   repeated `tracestate` / `baggage` headers are joined.
///
/// ```
/// use opentelemetry::propagation::Extractor;
/// use otel_kafka::HeaderExtractor;
/// use rdkafka::message::{Header, OwnedHeaders};
///
/// let headers = OwnedHeaders::new()
///     .insert(Header { key: "X-B3-Sampled", value: Some(b"1".as_slice()) })
///     .insert(Header { key: "junk", value: Some(b"\xff".as_slice()) });
/// let extractor = HeaderExtractor::new(&headers);
/// assert_eq!(extractor.get("x-b3-sampled"), Some("1"));
/// assert_eq!(extractor.get("junk"), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct HeaderExtractor<'a> {
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> HeaderExtractor<'a> {
    /// The readable headers of `headers`, read once.
    pub fn new<H: Headers + ?Sized>(headers: &'a H) -> Self {
        let count = headers.count();
        let mut entries = Vec::with_capacity(count);
        for index in 0..count {
            let Some(header) = header_at(headers, index) else {
                continue;
            };
            let Some(Ok(value)) = header.value.map(std::str::from_utf8) else {
                continue;
            };
            entries.push((header.key, value));
        }
        HeaderExtractor { entries }
    }

    /// The headers of a message, or none.
    pub fn from_headers<H: Headers + ?Sized>(headers: Option<&'a H>) -> Self {
        headers.map(Self::new).unwrap_or_default()
    }
}

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
    }

    fn keys(&self) -> Vec<&str> {
        self.entries.iter().map(|(k, _)| *k).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .entries
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// Writes propagation headers into a record's [`OwnedHeaders`], keeping the user's own.
///
/// What the propagators set is collected and written by [`HeaderInjector::into_headers`]: a header
/// already present under the same key (compared ASCII case-insensitively) or under a key passed to
/// [`HeaderInjector::replacing`] is replaced, never duplicated; every other header stays, in order.
/// When nothing needs replacing the user's headers are appended to, not copied.
///
/// ```
/// use opentelemetry::propagation::Injector;
/// use otel_kafka::HeaderInjector;
/// use rdkafka::message::{Header, Headers, OwnedHeaders};
///
/// let user = OwnedHeaders::new()
///     .insert(Header { key: "tenant", value: Some("acme") })
///     .insert(Header { key: "Traceparent", value: Some("stale") });
/// let mut injector = HeaderInjector::new(Some(user));
/// injector.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
/// let headers = injector.into_headers();
/// assert_eq!(headers.count(), 2);
/// assert_eq!(headers.get(0).key, "tenant");
/// assert_eq!(headers.get(1).key, "traceparent");
/// ```
#[derive(Debug, Default)]
pub struct HeaderInjector {
    headers: Option<OwnedHeaders>,
    set: Vec<(Cow<'static, str>, String)>,
    replacing: Vec<String>,
}

/// The keys our propagators write: kept as they are instead of copied per record.
const KNOWN_KEYS: [&str; 9] = [
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

impl HeaderInjector {
    /// An injector that adds to `headers` (a record's, or none yet).
    pub fn new(headers: Option<OwnedHeaders>) -> Self {
        HeaderInjector {
            headers,
            set: Vec::new(),
            replacing: Vec::new(),
        }
    }

    /// Also removes headers under these keys from the user's headers, whether or not a propagator
    /// sets them: the fields of the propagation in use (a stale `traceparent` must not survive
    /// beside a fresh `b3`), a `baggage` header that must not be stored in a topic.
    pub fn replacing<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.replacing.extend(keys.into_iter().map(Into::into));
        self
    }

    /// The user's headers with the propagation headers written.
    pub fn into_headers(self) -> OwnedHeaders {
        let HeaderInjector {
            headers,
            set,
            replacing,
        } = self;
        let replaces = |key: &str| {
            set.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
                || replacing.iter().any(|k| k.eq_ignore_ascii_case(key))
        };
        let headers = match headers {
            None => OwnedHeaders::new_with_capacity(set.len()),
            Some(user) => {
                let count = user.count();
                let stale =
                    (0..count).any(|i| header_at(&user, i).is_some_and(|h| replaces(h.key)));
                if stale {
                    let mut kept = OwnedHeaders::new_with_capacity(count + set.len());
                    for index in 0..count {
                        // A header that cannot be read (its key is not UTF-8) cannot be copied.
                        let Some(header) = header_at(&user, index) else {
                            continue;
                        };
                        if !replaces(header.key) {
                            kept = kept.insert(header);
                        }
                    }
                    kept
                } else {
                    user
                }
            }
        };
        set.iter().fold(headers, |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        })
    }
}

impl Injector for HeaderInjector {
    fn set(&mut self, key: &str, value: String) {
        match self
            .set
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some(entry) => entry.1 = value,
            None => {
                let key = match KNOWN_KEYS.iter().find(|k| **k == key) {
                    Some(known) => Cow::Borrowed(*known),
                    None => Cow::Owned(key.to_owned()),
                };
                self.set.push((key, value));
            }
        }
    }
}

/// Injects `cx` into `headers` with `propagation`: the propagation's own fields already present
/// are replaced, the user's other headers kept.
///
/// ```
/// use opentelemetry::Context;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
/// use otel_core::{Propagation, Propagators};
/// use rdkafka::message::{Headers, OwnedHeaders};
///
/// let propagation = Propagation::Propagators(Propagators::builder().tracecontext().build());
/// let cx = Context::new().with_remote_span_context(SpanContext::new(
///     TraceId::from(1), SpanId::from(2), TraceFlags::SAMPLED, true, TraceState::default(),
/// ));
/// let headers = otel_kafka::inject(&propagation, &cx, Some(OwnedHeaders::new()));
/// let back = otel_kafka::extract(&propagation, &Context::new(), Some(&headers));
/// assert_eq!(back.span().span_context().trace_id(), TraceId::from(1));
/// ```
pub fn inject(
    propagation: &Propagation,
    cx: &Context,
    headers: Option<OwnedHeaders>,
) -> OwnedHeaders {
    inject_replacing(propagation, cx, headers, &[])
}

/// [`inject`], also removing the user's headers under `extra` keys (a `baggage` header that must
/// not be stored in a topic) whether or not a propagator sets them.
pub(crate) fn inject_replacing(
    propagation: &Propagation,
    cx: &Context,
    headers: Option<OwnedHeaders>,
    extra: &[&str],
) -> OwnedHeaders {
    let has_headers = headers.as_ref().is_some_and(|h| h.count() > 0);
    let mut injector = HeaderInjector::new(headers);
    if has_headers {
        injector = injector
            .replacing(propagation.fields())
            .replacing(extra.iter().copied());
    }
    propagation.inject(cx, &mut injector);
    injector.into_headers()
}

/// Extracts the context `headers` carry with `propagation`, on top of `parent`.
pub fn extract<H: Headers + ?Sized>(
    propagation: &Propagation,
    parent: &Context,
    headers: Option<&H>,
) -> Context {
    match headers {
        Some(headers) if headers.count() > 0 => {
            propagation.extract(parent, &HeaderExtractor::new(headers))
        }
        _ => parent.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use otel_core::Propagators;
    use otel_propagation::PropagatorKind;

    fn sampled() -> Context {
        Context::new()
            .with_remote_span_context(SpanContext::new(
                TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
                SpanId::from(0x00f0_67aa_0ba9_02b7),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            ))
            .with_baggage(vec![KeyValue::new("tenant", "acme")])
    }

    fn keys(headers: &OwnedHeaders) -> Vec<String> {
        headers.iter().map(|h| h.key.to_owned()).collect()
    }

    fn only(kind: PropagatorKind) -> Propagation {
        Propagation::Propagators(Propagators::builder().with(kind).build())
    }

    #[test]
    fn every_propagator_round_trips() {
        for kind in PropagatorKind::ALL {
            let propagation = only(kind);
            let headers = inject(&propagation, &sampled(), None);
            assert!(headers.count() > 0, "{kind}");
            let cx = extract(&propagation, &Context::new(), Some(&headers));
            if kind == PropagatorKind::Baggage {
                assert_eq!(
                    cx.baggage().get("tenant").map(|v| v.as_str().to_owned()),
                    Some("acme".into())
                );
            } else {
                let span = cx.span();
                assert_eq!(
                    span.span_context().trace_id(),
                    sampled().span().span_context().trace_id(),
                    "{kind}"
                );
                assert!(span.span_context().is_sampled(), "{kind}");
                assert!(span.span_context().is_remote(), "{kind}");
            }
        }
    }

    #[test]
    fn user_headers_stay_and_propagation_headers_are_replaced_not_duplicated() {
        let propagation = Propagation::Propagators(
            Propagators::builder()
                .tracecontext()
                .baggage()
                .b3_multi()
                .build(),
        );
        let user = OwnedHeaders::new()
            .insert(Header {
                key: "tenant",
                value: Some("acme"),
            })
            .insert(Header {
                key: "TRACEPARENT",
                value: Some("00-11111111111111111111111111111111-2222222222222222-01"),
            })
            .insert(Header {
                key: "X-B3-TraceId",
                value: Some("11111111111111111111111111111111"),
            })
            .insert(Header::<&[u8]> {
                key: "null",
                value: None,
            });
        let headers = inject(&propagation, &sampled(), Some(user));
        let keys = keys(&headers);
        assert_eq!(keys[..2], ["tenant", "null"]);
        for field in ["traceparent", "x-b3-traceid", "baggage"] {
            assert_eq!(
                keys.iter()
                    .filter(|k| k.eq_ignore_ascii_case(field))
                    .count(),
                1,
                "{field} in {keys:?}"
            );
        }
        assert_eq!(headers.get(1).value, None);
        let cx = extract(&propagation, &Context::new(), Some(&headers));
        assert_eq!(
            cx.span().span_context().trace_id(),
            sampled().span().span_context().trace_id()
        );
    }

    #[test]
    fn headers_without_propagation_fields_are_appended_to() {
        let user = OwnedHeaders::new().insert(Header {
            key: "a",
            value: Some("1"),
        });
        let headers = inject(&only(PropagatorKind::TraceContext), &sampled(), Some(user));
        assert_eq!(keys(&headers), ["a", "traceparent"]);
    }

    #[test]
    fn headers_written_the_kafkajs_and_java_way_are_read() {
        // kafkajs writes Buffer values; Java's B3 instrumentation mixed-case keys.
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "X-B3-TraceId",
                value: Some(b"4bf92f3577b34da6a3ce929d0e0e4736".as_slice()),
            })
            .insert(Header {
                key: "X-B3-SpanId",
                value: Some(b"00f067aa0ba902b7".as_slice()),
            })
            .insert(Header {
                key: "X-B3-Sampled",
                value: Some(b"1".as_slice()),
            });
        let cx = extract(
            &only(PropagatorKind::B3Multi),
            &Context::new(),
            Some(&headers),
        );
        assert_eq!(
            cx.span().span_context().trace_id(),
            sampled().span().span_context().trace_id()
        );
        assert!(cx.span().span_context().is_sampled());
    }

    #[test]
    fn null_non_utf8_and_repeated_headers() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let headers = OwnedHeaders::new()
            .insert(Header::<&[u8]> {
                key: "traceparent",
                value: None,
            })
            .insert(Header {
                key: "traceparent",
                value: Some(b"\xff\xfe".as_slice()),
            })
            .insert(Header {
                key: "traceparent",
                value: Some(traceparent.as_bytes()),
            })
            .insert(Header {
                key: "baggage",
                value: Some(b"a=1".as_slice()),
            })
            .insert(Header {
                key: "Baggage",
                value: Some(b"b=2".as_slice()),
            });
        let extractor = HeaderExtractor::new(&headers);
        // Only the readable traceparent counts: not a repetition.
        assert_eq!(extractor.get_all("traceparent"), Some(vec![traceparent]));
        assert_eq!(extractor.get_all("BAGGAGE"), Some(vec!["a=1", "b=2"]));
        let propagation =
            Propagation::Propagators(Propagators::builder().tracecontext().baggage().build());
        let cx = extract(&propagation, &Context::new(), Some(&headers));
        assert!(cx.span().span_context().is_valid());
        assert_eq!(cx.baggage().len(), 2);

        // Two readable traceparents: invalid, as in HTTP; deterministic either way.
        let repeated = OwnedHeaders::new()
            .insert(Header {
                key: "traceparent",
                value: Some(traceparent),
            })
            .insert(Header {
                key: "TraceParent",
                value: Some(traceparent),
            });
        let cx = extract(&propagation, &Context::new(), Some(&repeated));
        assert!(!cx.span().span_context().is_valid());
    }

    #[test]
    fn no_headers_no_context() {
        let cx =
            extract::<OwnedHeaders>(&only(PropagatorKind::TraceContext), &Context::new(), None);
        assert!(!cx.span().span_context().is_valid());
        assert_eq!(
            HeaderExtractor::from_headers::<OwnedHeaders>(None)
                .keys()
                .len(),
            0
        );
    }

    #[test]
    fn set_twice_keeps_the_last_value() {
        let mut injector = HeaderInjector::new(None);
        injector.set("b3", "one".into());
        injector.set("B3", "two".into());
        let headers = injector.into_headers();
        assert_eq!(headers.count(), 1);
        assert_eq!(headers.get(0).value, Some(b"two".as_slice()));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn headers(records: &[(String, Option<Vec<u8>>)]) -> OwnedHeaders {
            records
                .iter()
                .fold(OwnedHeaders::new(), |headers, (key, value)| {
                    headers.insert(Header {
                        key,
                        value: value.as_deref(),
                    })
                })
        }

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("traceparent".to_owned()),
                Just("TraceParent".to_owned()),
                Just("tracestate".to_owned()),
                Just("baggage".to_owned()),
                Just("b3".to_owned()),
                Just("X-B3-TraceId".to_owned()),
                Just("x-b3-spanid".to_owned()),
                Just("X-B3-Sampled".to_owned()),
                ".{0,12}",
            ]
        }

        fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
            prop_oneof![
                Just(None),
                Just(Some(
                    b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_vec()
                )),
                Just(Some(b"4bf92f3577b34da6a3ce929d0e0e4736".to_vec())),
                Just(Some(b"00f067aa0ba902b7".to_vec())),
                Just(Some(b"1".to_vec())),
                Just(Some(b"a=1,b=%20".to_vec())),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some),
            ]
        }

        proptest! {
            /// The fuzz target's property (fuzz/fuzz_targets/kafka_headers.rs), on stable.
            #[test]
            fn extract_never_panics_and_inject_extract_is_identity(
                records in proptest::collection::vec((key(), value()), 0..8),
                kind in 0usize..3,
            ) {
                let builder = Propagators::builder().baggage();
                let builder = match kind {
                    0 => builder.tracecontext(),
                    1 => builder.b3(),
                    _ => builder.b3_multi(),
                };
                let propagation = Propagation::Propagators(builder.build());
                let incoming = headers(&records);
                let first = extract(&propagation, &Context::new(), Some(&incoming));
                let written = inject(&propagation, &first, Some(incoming.clone()));
                let second = extract(&propagation, &Context::new(), Some(&written));
                let (a, b) = (first.span(), second.span());
                let (a, b) = (a.span_context(), b.span_context());
                prop_assert_eq!(a.is_valid(), b.is_valid());
                if a.is_valid() {
                    prop_assert_eq!(a.trace_id(), b.trace_id());
                    prop_assert_eq!(a.span_id(), b.span_id());
                    prop_assert_eq!(a.is_sampled(), b.is_sampled());
                }
                let baggage = |cx: &Context| {
                    let mut entries: Vec<(String, String)> = cx
                        .baggage()
                        .iter()
                        .map(|(k, (v, _))| (k.to_string(), v.to_string()))
                        .collect();
                    entries.sort();
                    entries
                };
                prop_assert_eq!(baggage(&first), baggage(&second));
            }
        }
    }
}
