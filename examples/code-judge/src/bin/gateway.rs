//! `gateway`: the platform's HTTP front door (axum). `POST /api/v1/submit` checks the problem in
//! the Redis cache and asks code-manage (gRPC) for the verdict; `GET /api/v1/problems/{id}` serves
//! a problem from the cache. Traced by `OtelLayer::server()`, `GrpcOtelLayer::client()` and
//! `OtelRedis`; configured by the `OTEL_*` variables and `code_judge::config`.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use code_judge::config::{self, defaults, env_or};
use code_judge::proto::SubmitRequest;
use code_judge::proto::code_manage_client::CodeManageClient;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::{Context, KeyValue};
use otel_grpc::GrpcOtelLayer;
use otel_http::{OtelLayer, ResponsePropagation};
use otel_redis::{OtelRedis, TracedConnection};
use redis::AsyncCommands;
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceBuilder;

type CodeManage =
    CodeManageClient<otel_http::OtelService<tonic::transport::Channel, otel_grpc::GrpcClient>>;

#[derive(Clone)]
struct Gateway {
    code_manage: CodeManage,
    redis: TracedConnection<redis::aio::MultiplexedConnection>,
}

/// The problems this platform in miniature knows.
fn load_problem(id: &str) -> Option<Value> {
    let (title, limit_ms) = match id {
        "1" => ("A + B", 1000),
        "2" => ("Longest path", 2000),
        _ => return None,
    };
    Some(json!({ "id": id, "title": title, "time_limit_ms": limit_ms }))
}

/// The problem from the cache, or loaded and cached for five minutes.
async fn cached_problem(
    redis: &mut TracedConnection<redis::aio::MultiplexedConnection>,
    id: &str,
) -> Result<Option<Value>, redis::RedisError> {
    let key = format!("problem:{id}");
    let cached: Option<String> = redis.get(&key).await?;
    if let Some(cached) = cached.and_then(|c| serde_json::from_str(&c).ok()) {
        tracing::info!(problem = id, "problem cache hit");
        return Ok(Some(cached));
    }
    let Some(problem) = load_problem(id) else {
        return Ok(None);
    };
    redis
        .set_ex::<_, _, ()>(&key, problem.to_string(), 300)
        .await?;
    tracing::info!(problem = id, "problem cache miss: loaded and cached");
    Ok(Some(problem))
}

async fn problem(
    State(mut gateway): State<Gateway>,
    Path(id): Path<String>,
) -> (StatusCode, Json<Value>) {
    match cached_problem(&mut gateway.redis, &id).await {
        Ok(Some(problem)) => (StatusCode::OK, Json(problem)),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such problem" })),
        ),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": error.to_string() })),
        ),
    }
}

#[derive(Deserialize)]
struct Submit {
    problem_id: String,
    language: String,
    code: String,
}

async fn submit(
    State(mut gateway): State<Gateway>,
    Json(body): Json<Submit>,
) -> (StatusCode, Json<Value>) {
    match cached_problem(&mut gateway.redis, &body.problem_id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "no such problem" })),
            );
        }
        Err(error) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": error.to_string() })),
            );
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let submission_id = format!("sub-{nanos:x}");
    tracing::info!(submission = %submission_id, problem = %body.problem_id, "submission received");
    // Baggage set here travels with the request to every service downstream.
    let cx =
        Context::current().with_baggage([KeyValue::new("submission.id", submission_id.clone())]);
    let request = SubmitRequest {
        submission_id: submission_id.clone(),
        problem_id: body.problem_id,
        language: body.language,
        code: body.code,
    };
    match gateway.code_manage.submit(request).with_context(cx).await {
        Ok(reply) => {
            let reply = reply.into_inner();
            (
                StatusCode::OK,
                Json(json!({
                    "submission_id": reply.submission_id,
                    "verdict": reply.verdict,
                    "detail": reply.detail,
                })),
            )
        }
        Err(status) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "submission_id": submission_id, "error": status.message() })),
        ),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    code_judge::service::run("gateway", serve()).await
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let listen = env_or(config::GATEWAY_LISTEN, defaults::GATEWAY_LISTEN);
    let redis_client = redis::Client::open(env_or(config::REDIS_URL, defaults::REDIS_URL))?;
    let redis = OtelRedis::for_client(&redis_client)
        .wrap(redis_client.get_multiplexed_async_connection().await?);
    let channel = tonic::transport::Channel::from_shared(env_or(
        config::CODE_MANAGE_URL,
        defaults::CODE_MANAGE_URL,
    ))?
    .connect_lazy();
    let code_manage = CodeManageClient::new(
        ServiceBuilder::new()
            .layer(GrpcOtelLayer::client())
            .service(channel),
    );
    let app = Router::new()
        .route("/api/v1/submit", post(submit))
        .route("/api/v1/problems/{id}", get(problem))
        .with_state(Gateway { code_manage, redis })
        .layer(OtelLayer::server().propagate_to_response(ResponsePropagation::TraceResponse));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!("gateway listening on {listen}");
    axum::serve(listener, app)
        .with_graceful_shutdown(otel_init::shutdown_signal())
        .await?;
    Ok(())
}
