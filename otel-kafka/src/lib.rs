//! OpenTelemetry for rdkafka: header carriers, traced producers and consumers.
//!
//! A message produced inside a trace is processed in that same trace on the other side, whichever
//! language produced it. Wrap the producer once and keep calling `send`; wrap the consumer once and
//! process each message under its context:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use rdkafka::ClientConfig;
//! use rdkafka::consumer::{Consumer, StreamConsumer};
//! use rdkafka::producer::FutureRecord;
//! use rdkafka::{Offset, TopicPartitionList};
//! use otel_kafka::{TracedConsumer, TracedProducer};
//! # let cluster = rdkafka::mocking::MockCluster::new(1)?;
//! # cluster.create_topic("orders", 1, 1)?;
//! # let brokers = cluster.bootstrap_servers();
//!
//! // Producer: a PRODUCER span `send orders`, its context written into the record's headers.
//! let producer: TracedProducer = ClientConfig::new()
//!     .set("bootstrap.servers", &brokers)
//!     .create()?;
//! producer
//!     .send(FutureRecord::to("orders").key("42").payload("{}"), std::time::Duration::ZERO)
//!     .await
//!     .map_err(|(error, _message)| error)?;
//!
//! // Consumer: each message handled inside a CONSUMER span `process orders`, a child of the
//! // producer's span; the handler gets its context and runs with it current.
//! let consumer: TracedConsumer<StreamConsumer> = ClientConfig::new()
//!     .set("bootstrap.servers", &brokers)
//!     .set("group.id", "workers")
//!     .create()?;
//! # let mut partitions = TopicPartitionList::new();
//! # partitions.add_partition_offset("orders", 0, Offset::Beginning)?;
//! # consumer.assign(&partitions)?;
//! let message = consumer.recv().await?;
//! consumer
//!     .process_async(&message, |_cx| async {
//!         // Spans started here nest under `process orders`; records sent with the traced
//!         // producer continue the trace.
//!         Ok::<_, std::io::Error>(())
//!     })
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`TracedProducer`] wraps a `FutureProducer` (`send` and `send_result`, same shapes and
//!   results); the span ends with the delivery report, with the partition and offset, or with
//!   `error.type` (the `RDKafkaErrorCode` name) and error status. For a `BaseProducer` or a
//!   `ThreadedProducer`, [`TracedProducerContext`] does the same through the delivery callback,
//!   and [`TracedProducerContext::send_failed`] for a record `send` hands back (`QueueFull`).
//! - [`TracedConsumer`] wraps a `StreamConsumer`, a `BaseConsumer` or any consumer:
//!   [`TracedConsumer::process`] / [`TracedConsumer::process_async`] for one message,
//!   [`TracedConsumer::receive`] for a batch (`receive {topic}` with a link to each message).
//! - [`HeaderInjector`] / [`HeaderExtractor`] (and [`inject`] / [`extract`]): the carriers, for
//!   code that produces or consumes some other way. Keys match case-insensitively; null and
//!   non-UTF-8 values are skipped.
//! - [`Options`]: providers, propagators, the consumer span's parent, switches, hooks.
//!
//! Spans and metrics follow the messaging semantic conventions (`messaging.system` = `kafka`);
//! the crate README lists them.

mod carrier;
mod consumer;
mod options;
mod producer;
mod producer_context;
mod semconv;

pub use carrier::{HeaderExtractor, HeaderInjector, extract, inject};
pub use consumer::{ProcessFuture, Receive, TracedConsumer, TracedMessageStream};
pub use options::{MessageHead, MessageHook, Options};
pub use otel_core::messaging::ConsumerParent;
pub use otel_core::{Propagation, Propagators};
pub use otel_propagation as propagation;
pub use producer::{TracedDeliveryFuture, TracedProducer};
pub use producer_context::{Traced, TracedProducerContext};
