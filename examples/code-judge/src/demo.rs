//! The demo's run: the servers, the three services as processes, a handful of submissions, and the
//! traces they leave, checked and drawn.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::process::{Child, Command};

use crate::config;
use crate::infra::{self, MockKafka, RedisServer};
use crate::receiver::Receiver;
use crate::waterfall::{self, Span};

/// Where the three service binaries are.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// `gateway`.
    pub gateway: PathBuf,
    /// `code-manage`.
    pub code_manage: PathBuf,
    /// `code-execution`.
    pub code_execution: PathBuf,
}

impl Binaries {
    /// The binaries built beside the running one (`cargo build -p code-judge --bins`).
    pub fn beside_current_exe() -> std::io::Result<Binaries> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().unwrap_or(Path::new("."));
        Ok(Binaries {
            gateway: dir.join("gateway"),
            code_manage: dir.join("code-manage"),
            code_execution: dir.join("code-execution"),
        })
    }
}

/// One submission the demo sends.
#[derive(Clone, Debug)]
pub struct Submission {
    /// What it shows.
    pub label: &'static str,
    /// The problem.
    pub problem_id: &'static str,
    /// The language.
    pub language: &'static str,
    /// The code.
    pub code: &'static str,
    /// Whether the worker fails running it (its process span ends in error).
    pub fails: bool,
}

/// The demo's submissions: the first of a problem misses the Redis cache, the second hits it, one
/// fails in the worker.
pub fn submissions() -> Vec<Submission> {
    vec![
        Submission {
            label: "accepted (problem cache miss)",
            problem_id: "1",
            language: "python",
            code: "print(sum(map(int, input().split())))",
            fails: false,
        },
        Submission {
            label: "wrong answer (problem cache hit)",
            problem_id: "1",
            language: "python",
            code: "print(42)",
            fails: false,
        },
        Submission {
            label: "runtime error (fails in the worker)",
            problem_id: "2",
            language: "rust",
            code: "fn main() { panic!(\"boom\") }",
            fails: true,
        },
    ]
}

/// How the demo runs.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `OTEL_PROPAGATORS` for every service (empty: their default).
    pub propagators: String,
    /// Where logs of the services go (a file per service); a temporary folder when `None`.
    pub log_dir: Option<PathBuf>,
    /// A collector the services export to instead of the demo's own receiver (its
    /// `OTEL_EXPORTER_OTLP_*` settings are passed on as they are); the demo then cannot draw
    /// the traces and prints their ids.
    pub collector: Option<String>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Per submission: the submission, the HTTP status and body of its reply, the trace id the
    /// gateway answered with (`traceresponse`), and the spans of that trace.
    pub submissions: Vec<SubmissionOutcome>,
    /// Spans that belong to no submission's trace (there should be none).
    pub stray_spans: Vec<Span>,
    /// The folder with the services' logs.
    pub log_dir: PathBuf,
}

/// One submission's reply and trace.
#[derive(Debug)]
pub struct SubmissionOutcome {
    /// What was sent.
    pub submission: Submission,
    /// The reply's status.
    pub status: u16,
    /// The reply's body.
    pub body: String,
    /// The trace id from the reply's `traceresponse` header.
    pub trace_id: String,
    /// Every span of that trace.
    pub spans: Vec<Span>,
}

struct Service {
    name: &'static str,
    child: Child,
}

fn spawn(
    name: &'static str,
    binary: &Path,
    env: &[(&str, String)],
    log_dir: &Path,
) -> Result<Service, Box<dyn Error>> {
    let log = std::fs::File::create(log_dir.join(format!("{name}.log")))?;
    let child = Command::new(binary)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("OTEL_SERVICE_NAME", name)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    Ok(Service { name, child })
}

/// Asks a service to stop as a deployment would (SIGTERM) and waits for it to flush and exit.
async fn terminate(mut service: Service) -> Result<(), Box<dyn Error>> {
    if let Some(pid) = service.child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    match tokio::time::timeout(Duration::from_secs(15), service.child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{} exited with {status}", service.name).into()),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            let _ = service.child.kill().await;
            Err(format!("{} did not stop within 15 s of SIGTERM", service.name).into())
        }
    }
}

/// Runs the whole flow once.
pub async fn run(binaries: &Binaries, options: &Options) -> Result<Outcome, Box<dyn Error>> {
    let receiver = Receiver::start().await?;
    let redis = RedisServer::start()?;
    let kafka = MockKafka::start()?;
    let log_dir = match &options.log_dir {
        Some(dir) => dir.clone(),
        None => {
            // One folder per run, also when one process runs several.
            static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::env::temp_dir().join(format!("code-judge-{}-{run}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&log_dir)?;

    let gateway_port = integration_tests::process::free_port();
    let code_manage_port = integration_tests::process::free_port();
    let mut common = match &options.collector {
        // The user's collector, with the protocol and headers their environment names.
        Some(endpoint) => vec![("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone())],
        None => vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", receiver.http),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ],
    };
    common.extend([
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".to_owned()),
        ("OTEL_TRACES_SAMPLER_ARG", "1.0".to_owned()),
        ("OTEL_PROPAGATORS", options.propagators.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000".to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000".to_owned()),
        (config::KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrap_servers()),
        (config::REDIS_URL, redis.url()),
        (
            config::CODE_MANAGE_LISTEN,
            format!("127.0.0.1:{code_manage_port}"),
        ),
        (
            config::CODE_MANAGE_URL,
            format!("http://127.0.0.1:{code_manage_port}"),
        ),
        (config::GATEWAY_LISTEN, format!("127.0.0.1:{gateway_port}")),
    ]);

    let worker = spawn(
        "code-execution",
        &binaries.code_execution,
        &common,
        &log_dir,
    )?;
    let code_manage = spawn("code-manage", &binaries.code_manage, &common, &log_dir)?;
    let gateway = spawn("gateway", &binaries.gateway, &common, &log_dir)?;
    infra::wait_for_port(code_manage_port, Duration::from_secs(30))?;
    infra::wait_for_port(gateway_port, Duration::from_secs(30))?;

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let mut replies = Vec::new();
    for submission in submissions() {
        let body = serde_json::json!({
            "problem_id": submission.problem_id,
            "language": submission.language,
            "code": submission.code,
        });
        let request = http::Request::post(format!("http://127.0.0.1:{gateway_port}/api/v1/submit"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes::Bytes::from(body.to_string())))?;
        let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
            .await
            .map_err(|_| format!("{}: no reply within 30 s", submission.label))??;
        let status = response.status().as_u16();
        let trace_id = response
            .headers()
            .get("traceresponse")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split('-').nth(1))
            .unwrap_or_default()
            .to_owned();
        let body = response.into_body().collect().await?.to_bytes();
        replies.push((
            submission,
            status,
            String::from_utf8_lossy(&body).into_owned(),
            trace_id,
        ));
    }

    // SIGTERM, as a deployment stops them: each flushes its spans on the way out.
    let mut stop_errors = Vec::new();
    for service in [gateway, code_manage, worker] {
        if let Err(e) = terminate(service).await {
            stop_errors.push(e.to_string());
        }
    }
    drop(kafka);
    drop(redis);
    if !stop_errors.is_empty() {
        return Err(format!(
            "services did not stop cleanly: {} (logs in {})",
            stop_errors.join("; "),
            log_dir.display()
        )
        .into());
    }

    let mut by_trace: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for span in receiver.received.spans() {
        by_trace
            .entry(span.trace_id.clone())
            .or_default()
            .push(span);
    }
    let submissions = replies
        .into_iter()
        .map(|(submission, status, body, trace_id)| SubmissionOutcome {
            spans: by_trace.remove(&trace_id).unwrap_or_default(),
            submission,
            status,
            body,
            trace_id,
        })
        .collect();
    Ok(Outcome {
        submissions,
        stray_spans: by_trace.into_values().flatten().collect(),
        log_dir,
    })
}

/// One hop of the expected chain: a span of `service`, `kind` and `name`, child of the hop
/// `parent` (an index into the chain) or the root.
struct Hop {
    service: &'static str,
    kind: &'static str,
    name: &'static str,
    parent: Option<usize>,
}

const CHAIN: &[Hop] = &[
    Hop {
        service: "gateway",
        kind: "SERVER",
        name: "POST /api/v1/submit",
        parent: None,
    },
    Hop {
        service: "gateway",
        kind: "CLIENT",
        name: "GET",
        parent: Some(0),
    },
    Hop {
        service: "gateway",
        kind: "CLIENT",
        name: "judge.v1.CodeManage/Submit",
        parent: Some(0),
    },
    Hop {
        service: "code-manage",
        kind: "SERVER",
        name: "judge.v1.CodeManage/Submit",
        parent: Some(2),
    },
    Hop {
        service: "code-manage",
        kind: "PRODUCER",
        name: "send code-execution",
        parent: Some(3),
    },
    Hop {
        service: "code-execution",
        kind: "CONSUMER",
        name: "process code-execution",
        parent: Some(4),
    },
    Hop {
        service: "code-execution",
        kind: "PRODUCER",
        name: "send code-result",
        parent: Some(5),
    },
    Hop {
        service: "code-manage",
        kind: "CONSUMER",
        name: "process code-result",
        parent: Some(6),
    },
];

/// What is wrong with one submission's trace: every hop of the chain present once with the right
/// parent, and every span's parent inside the trace. Empty when all is well.
pub fn check_trace(outcome: &SubmissionOutcome) -> Vec<String> {
    let mut problems = Vec::new();
    let label = outcome.submission.label;
    if outcome.trace_id.is_empty() {
        problems.push(format!("{label}: the reply carried no traceresponse"));
        return problems;
    }
    let spans = &outcome.spans;
    let find = |hop: &Hop| {
        spans
            .iter()
            .find(|s| s.service == hop.service && s.kind == hop.kind && s.name == hop.name)
    };
    let found: Vec<Option<&Span>> = CHAIN.iter().map(find).collect();
    for (hop, span) in CHAIN.iter().zip(&found) {
        let Some(span) = span else {
            problems.push(format!(
                "{label}: no {} {} span `{}` in trace {}",
                hop.service, hop.kind, hop.name, outcome.trace_id
            ));
            continue;
        };
        match hop.parent {
            None if !span.parent_span_id.is_empty() => {
                problems.push(format!("{label}: `{}` should be the root", hop.name))
            }
            Some(parent) => {
                if let Some(parent_span) = found[parent]
                    && span.parent_span_id != parent_span.span_id
                {
                    problems.push(format!(
                        "{label}: `{}` ({}) is not a child of `{}` ({})",
                        hop.name, hop.service, parent_span.name, parent_span.service
                    ));
                }
            }
            None => {}
        }
    }
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    for span in spans {
        if !span.parent_span_id.is_empty() && !ids.contains(span.parent_span_id.as_str()) {
            problems.push(format!(
                "{label}: `{}` ({}) has a parent that is not in the trace",
                span.name, span.service
            ));
        }
    }
    let failed = spans.iter().any(|s| s.error);
    if outcome.submission.fails && !failed {
        problems.push(format!("{label}: no span is marked as an error"));
    }
    problems
}

/// Draws every submission's trace and says whether all is one trace per submission.
pub fn report(outcome: &Outcome) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut problems = Vec::new();
    for submission in &outcome.submissions {
        text.push_str(&format!(
            "\n== {}: HTTP {} {}\n",
            submission.submission.label, submission.status, submission.body
        ));
        text.push_str(&waterfall::render(&submission.spans, 40));
        problems.extend(check_trace(submission));
    }
    for span in &outcome.stray_spans {
        problems.push(format!(
            "span `{}` ({} {}) is in trace {}, which no submission started",
            span.name, span.service, span.kind, span.trace_id
        ));
    }
    (text, problems)
}
