//! `code-manage`: takes submissions over gRPC (tonic), queues each as a job on the Kafka topic
//! `code-execution`, and answers once the verdict arrives on `code-result`. Traced by
//! `GrpcOtelLayer::server()`, `TracedProducer` and `TracedConsumer`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use code_judge::config::{self, defaults, env_or};
use code_judge::infra::{EXECUTION_TOPIC, RESULT_TOPIC};
use code_judge::kafka::{Job, Verdict, consumer_config, producer_config};
use code_judge::proto::code_manage_server::{CodeManage, CodeManageServer};
use code_judge::proto::{SubmitReply, SubmitRequest};
use otel_grpc::GrpcOtelLayer;
use otel_kafka::{TracedConsumer, TracedProducer};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Verdict>>>>;

struct Service {
    producer: TracedProducer,
    pending: Pending,
}

#[tonic::async_trait]
impl CodeManage for Service {
    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitReply>, Status> {
        let request = request.into_inner();
        let job = Job {
            submission_id: request.submission_id.clone(),
            problem_id: request.problem_id,
            language: request.language,
            code: request.code,
        };
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(job.submission_id.clone(), tx);
        let payload = serde_json::to_vec(&job).map_err(|e| Status::internal(e.to_string()))?;
        // Sent under the server span: the job carries this trace to the worker.
        let sent = self
            .producer
            .send(
                FutureRecord::to(EXECUTION_TOPIC)
                    .key(&job.submission_id)
                    .payload(&payload),
                Duration::from_secs(5),
            )
            .await;
        if let Err((error, _)) = sent {
            lock(&self.pending).remove(&job.submission_id);
            tracing::error!(submission = %job.submission_id, "job not queued: {error}");
            return Err(Status::unavailable(format!("job not queued: {error}")));
        }
        tracing::info!(submission = %job.submission_id, "job queued");
        match tokio::time::timeout(Duration::from_secs(20), rx).await {
            Ok(Ok(verdict)) => Ok(Response::new(SubmitReply {
                submission_id: verdict.submission_id,
                verdict: verdict.verdict,
                detail: verdict.detail,
            })),
            _ => {
                lock(&self.pending).remove(&job.submission_id);
                Err(Status::deadline_exceeded("no verdict within 20 s"))
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hands each verdict on `code-result` to the call waiting for it, inside a `process code-result`
/// span that continues the trace the worker's record carries.
async fn route_verdicts(consumer: TracedConsumer<StreamConsumer>, pending: Pending) {
    loop {
        let message = match consumer.recv().await {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!("code-result: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = consumer.process(&message, |_cx| {
            let verdict: Verdict = serde_json::from_slice(message.payload().unwrap_or_default())?;
            tracing::info!(submission = %verdict.submission_id, verdict = %verdict.verdict, "verdict received");
            if let Some(waiting) = lock(&pending).remove(&verdict.submission_id) {
                let _ = waiting.send(verdict);
            }
            Ok::<_, serde_json::Error>(())
        });
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    code_judge::service::run("code-manage", serve()).await
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let brokers = env_or(
        config::KAFKA_BOOTSTRAP_SERVERS,
        defaults::KAFKA_BOOTSTRAP_SERVERS,
    );
    let listen = env_or(config::CODE_MANAGE_LISTEN, defaults::CODE_MANAGE_LISTEN);
    let producer: TracedProducer = producer_config(&brokers, "code-manage").create()?;
    let consumer: TracedConsumer<StreamConsumer> =
        consumer_config(&brokers, "code-manage", "code-manage").create()?;
    consumer.inner().subscribe(&[RESULT_TOPIC])?;
    let pending = Pending::default();
    let router = tokio::spawn(route_verdicts(consumer, pending.clone()));

    let service = Service { producer, pending };
    tracing::info!("code-manage listening on {listen}");
    tonic::transport::Server::builder()
        .layer(GrpcOtelLayer::server())
        .add_service(CodeManageServer::new(service))
        .serve_with_shutdown(listen.parse()?, otel_init::shutdown_signal())
        .await?;
    router.abort();
    Ok(())
}
