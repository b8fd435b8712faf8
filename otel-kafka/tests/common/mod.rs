//! Test fixtures: clients on a broker, and Kafka options recording into the shared telemetry
//! fixture (`integration_tests::telemetry`).
#![allow(dead_code)]

use std::time::Duration;

pub use integration_tests::telemetry::{Telemetry, attr, unique_span as span};
use otel_kafka::{Options, TracedConsumer, TracedProducer};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub mod tansu;

/// Options recording into a [`Telemetry`]'s providers.
pub trait KafkaOptions {
    /// Options recording into these providers, with W3C trace context and baggage (the global
    /// propagator is left alone: tests run in parallel).
    fn options(&self) -> Options;
}

impl KafkaOptions for Telemetry {
    fn options(&self) -> Options {
        Options::new()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .propagators(
                otel_kafka::Propagators::builder()
                    .tracecontext()
                    .baggage()
                    .build(),
            )
    }
}

/// Client settings for `brokers`, short timeouts so failures show quickly.
pub fn config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "otel-kafka-test")
        .set("message.timeout.ms", "10000")
        .set("socket.timeout.ms", "5000")
        .set("api.version.request", "true");
    config
}

/// The address of a broker that is down: a loopback port nothing listens on.
pub fn dead_broker() -> String {
    format!("127.0.0.1:{}", integration_tests::process::free_port())
}

pub fn producer(brokers: &str, options: Options) -> TracedProducer {
    TracedProducer::from_config_with_options(&config(brokers), options).expect("producer")
}

/// A consumer of `topic` partition 0 from the beginning: `assign()`, no group join to wait for.
pub fn consumer(brokers: &str, topic: &str, options: Options) -> TracedConsumer<StreamConsumer> {
    let mut config = config(brokers);
    config
        .set("group.id", "otel-kafka-tests")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    let consumer: TracedConsumer<StreamConsumer> =
        TracedConsumer::from_config_with_options(&config, options).expect("consumer");
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    consumer
}

/// Bounds every await on the broker.
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}
