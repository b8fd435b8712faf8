//! The metric instruments: `db.client.operation.duration`, and the messaging ones for streams
//! and Pub/Sub (from `otel_core::messaging`, as Kafka's).

use std::sync::OnceLock;

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry_semantic_conventions::metric;
use otel_core::messaging::MessagingInstruments;

/// The bucket boundaries the database conventions advise for `db.client.operation.duration`,
/// seconds.
pub const DURATION_BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];

/// The instruments of one set of options, made once.
pub(crate) struct Instruments {
    pub(crate) operation_duration: Histogram<f64>,
    meter: Meter,
    messaging: OnceLock<MessagingInstruments>,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        Instruments {
            operation_duration: meter
                .f64_histogram(metric::DB_CLIENT_OPERATION_DURATION)
                .with_unit("s")
                .with_description("Duration of database client operations.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            meter: meter.clone(),
            messaging: OnceLock::new(),
        }
    }

    /// The messaging instruments, made when streams or Pub/Sub are first used.
    pub(crate) fn messaging(&self) -> &MessagingInstruments {
        self.messaging
            .get_or_init(|| MessagingInstruments::new(&self.meter))
    }
}
