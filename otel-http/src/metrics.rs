//! The HTTP metric instruments, named and bucketed as the semantic conventions say.

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};
use opentelemetry_semantic_conventions::metric as names;

use crate::options::Side;

/// The duration histogram's advisory buckets, in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The instruments one side records, created once per layer.
pub(crate) struct Instruments {
    pub(crate) duration: Histogram<f64>,
    pub(crate) active: Option<UpDownCounter<i64>>,
    pub(crate) request_body_size: Histogram<u64>,
    pub(crate) response_body_size: Histogram<u64>,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter, side: Side) -> Self {
        let (duration, active, request_size, response_size) = match side {
            Side::Server => (
                names::HTTP_SERVER_REQUEST_DURATION,
                Some(names::HTTP_SERVER_ACTIVE_REQUESTS),
                names::HTTP_SERVER_REQUEST_BODY_SIZE,
                names::HTTP_SERVER_RESPONSE_BODY_SIZE,
            ),
            Side::Client => (
                names::HTTP_CLIENT_REQUEST_DURATION,
                Some(names::HTTP_CLIENT_ACTIVE_REQUESTS),
                names::HTTP_CLIENT_REQUEST_BODY_SIZE,
                names::HTTP_CLIENT_RESPONSE_BODY_SIZE,
            ),
        };
        Instruments {
            duration: meter
                .f64_histogram(duration)
                .with_unit("s")
                .with_description("Duration of HTTP requests.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            active: active.map(|name| {
                meter
                    .i64_up_down_counter(name)
                    .with_unit("{request}")
                    .with_description("Number of active HTTP requests.")
                    .build()
            }),
            request_body_size: meter
                .u64_histogram(request_size)
                .with_unit("By")
                .with_description("Size of HTTP request bodies.")
                .build(),
            response_body_size: meter
                .u64_histogram(response_size)
                .with_unit("By")
                .with_description("Size of HTTP response bodies.")
                .build(),
        }
    }
}

/// The attributes every metric of one request shares, gathered as the request goes.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricAttributes {
    /// Those known when the request starts: method, scheme, route or server address and port,
    /// protocol version.
    pub(crate) request: Vec<KeyValue>,
    /// How many of `request` the active-requests counter takes (method and scheme, first).
    pub(crate) active_len: usize,
}
