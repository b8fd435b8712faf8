//! `code-execution`: the worker. Consumes jobs from `code-execution`, "runs" the code, and
//! produces the verdict to `code-result`, each job inside a `process code-execution` span that
//! continues the submitter's trace. Traced by `TracedConsumer` and `TracedProducer`.

use std::process::ExitCode;
use std::time::Duration;

use code_judge::config::{self, defaults, env_or};
use code_judge::infra::{EXECUTION_TOPIC, RESULT_TOPIC};
use code_judge::kafka::{Job, Verdict, consumer_config, producer_config};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{Span as _, Status, Tracer};
use opentelemetry::{Context, KeyValue};
use otel_kafka::{TracedConsumer, TracedProducer};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;

/// Why a run failed: the process span records it.
#[derive(Debug)]
struct RunFailed(String);

impl std::fmt::Display for RunFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run failed: {}", self.0)
    }
}

impl std::error::Error for RunFailed {}

/// "Runs" the code: a panic is a runtime error, printing 42 is a wrong answer.
async fn run(job: &Job) -> Verdict {
    let tracer = opentelemetry::global::tracer("code-execution");
    let mut span = tracer.start(format!("run {}", job.language));
    span.set_attribute(KeyValue::new("code.language", job.language.clone()));
    // Baggage the gateway set, read here two hops and a Kafka topic later.
    if let Some(id) = Context::current().baggage().get("submission.id") {
        span.set_attribute(KeyValue::new("app.submission.id", id.to_string()));
    }
    tokio::time::sleep(Duration::from_millis(15)).await;
    let (verdict, detail) = if job.code.contains("panic!") {
        span.set_status(Status::error("the program panicked"));
        ("RUNTIME_ERROR", "thread 'main' panicked: boom")
    } else if job.code.contains("42") {
        ("WRONG_ANSWER", "expected 3, got 42")
    } else {
        ("ACCEPTED", "3/3 tests passed")
    };
    span.end();
    Verdict {
        submission_id: job.submission_id.clone(),
        verdict: verdict.to_owned(),
        detail: detail.to_owned(),
    }
}

async fn work(consumer: TracedConsumer<StreamConsumer>, producer: TracedProducer) {
    loop {
        let message = match consumer.recv().await {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!("code-execution: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let payload = message.payload().unwrap_or_default().to_vec();
        let producer = &producer;
        // The handler's future runs with the process span's context current: the `run` span and
        // the verdict's send nest under it.
        let processed = consumer
            .process_async(&message, |_cx| async move {
                let job: Job = serde_json::from_slice(&payload)
                    .map_err(|e| RunFailed(format!("bad job: {e}")))?;
                tracing::info!(submission = %job.submission_id, "job started");
                let verdict = run(&job).await;
                let bytes = serde_json::to_vec(&verdict).map_err(|e| RunFailed(e.to_string()))?;
                // Produced under the process span: the verdict continues the trace.
                producer
                    .send(
                        FutureRecord::to(RESULT_TOPIC)
                            .key(&verdict.submission_id)
                            .payload(&bytes),
                        Duration::from_secs(5),
                    )
                    .await
                    .map_err(|(error, _)| RunFailed(format!("verdict not sent: {error}")))?;
                tracing::info!(submission = %verdict.submission_id, verdict = %verdict.verdict, "job done");
                if verdict.verdict == "RUNTIME_ERROR" {
                    return Err(RunFailed(verdict.detail));
                }
                Ok(())
            })
            .await;
        if let Err(error) = processed {
            tracing::warn!("{error}");
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    code_judge::service::run("code-execution", serve()).await
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let brokers = env_or(
        config::KAFKA_BOOTSTRAP_SERVERS,
        defaults::KAFKA_BOOTSTRAP_SERVERS,
    );
    let producer: TracedProducer = producer_config(&brokers, "code-execution").create()?;
    let consumer: TracedConsumer<StreamConsumer> =
        consumer_config(&brokers, "code-execution", "code-execution").create()?;
    consumer.inner().subscribe(&[EXECUTION_TOPIC])?;
    tracing::info!("code-execution consuming {EXECUTION_TOPIC}");
    tokio::select! {
        () = work(consumer, producer) => {}
        () = otel_init::shutdown_signal() => {}
    }
    Ok(())
}
