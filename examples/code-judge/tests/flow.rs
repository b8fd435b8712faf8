//! The demo's flow as separate processes, asserted span by span: HTTP server → Redis → gRPC →
//! Kafka send/process both ways, one trace per submission, the right kinds and attributes, under
//! W3C and B3 propagation, with baggage set at the gateway read in the worker.

use code_judge::demo::{self, Binaries, Options, Outcome};
use code_judge::waterfall::Span;

fn binaries() -> Binaries {
    Binaries {
        gateway: env!("CARGO_BIN_EXE_gateway").into(),
        code_manage: env!("CARGO_BIN_EXE_code-manage").into(),
        code_execution: env!("CARGO_BIN_EXE_code-execution").into(),
    }
}

async fn run(propagators: &str) -> Outcome {
    let options = Options {
        propagators: propagators.to_owned(),
        log_dir: None,
        collector: None,
    };
    let outcome = demo::run(&binaries(), &options)
        .await
        .unwrap_or_else(|e| panic!("the flow failed under {propagators}: {e}"));
    let (text, problems) = demo::report(&outcome);
    assert!(
        problems.is_empty(),
        "under {propagators}:\n{problems:#?}\n{text}"
    );
    outcome
}

fn span<'a>(spans: &'a [Span], service: &str, name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.service == service && s.name == name)
        .unwrap_or_else(|| panic!("no {service} span {name}"))
}

/// The attributes each hop carries, by the semantic conventions.
fn assert_attributes(spans: &[Span]) {
    let server = span(spans, "gateway", "POST /api/v1/submit");
    assert_eq!(server.attribute("http.route"), Some("/api/v1/submit"));
    assert_eq!(server.attribute("http.response.status_code"), Some("200"));

    let get = span(spans, "gateway", "GET");
    assert_eq!(get.kind, "CLIENT");
    assert_eq!(get.attribute("db.system.name"), Some("redis"));
    assert_eq!(get.attribute("db.namespace"), Some("0"));
    let statement = get.attribute("db.query.text").unwrap_or_default();
    assert!(statement.starts_with("GET problem:"), "{statement}");
    // The cached value never shows; the SETEX that stored it shows `?` in its place.
    for set in spans.iter().filter(|s| s.name == "SETEX") {
        let statement = set.attribute("db.query.text").unwrap_or_default();
        assert!(statement.ends_with(" ?"), "{statement}");
        assert!(!statement.contains("title"), "{statement}");
    }

    let grpc = span(spans, "code-manage", "judge.v1.CodeManage/Submit");
    assert_eq!(
        grpc.attribute("rpc.method"),
        Some("judge.v1.CodeManage/Submit")
    );

    for (service, name, kind, operation) in [
        ("code-manage", "send code-execution", "PRODUCER", "send"),
        (
            "code-execution",
            "process code-execution",
            "CONSUMER",
            "process",
        ),
        ("code-execution", "send code-result", "PRODUCER", "send"),
        ("code-manage", "process code-result", "CONSUMER", "process"),
    ] {
        let hop = span(spans, service, name);
        assert_eq!(hop.kind, kind, "{name}");
        assert_eq!(hop.attribute("messaging.system"), Some("kafka"), "{name}");
        assert_eq!(
            hop.attribute("messaging.operation.type"),
            Some(operation),
            "{name}"
        );
        let topic = name.split(' ').nth(1);
        assert_eq!(hop.attribute("messaging.destination.name"), topic, "{name}");
    }
    // A consumer span continues the producer's trace and links to it as well.
    let process = span(spans, "code-execution", "process code-execution");
    let send = span(spans, "code-manage", "send code-execution");
    assert!(
        process
            .links
            .iter()
            .any(|(_, span_id)| *span_id == send.span_id),
        "process span links to the producer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_per_submission_under_w3c_with_baggage_in_the_worker() {
    let outcome = run("tracecontext,baggage").await;
    for submission in &outcome.submissions {
        assert_attributes(&submission.spans);
        let submission_id = serde_json::from_str::<serde_json::Value>(&submission.body)
            .ok()
            .and_then(|b| b["submission_id"].as_str().map(str::to_owned))
            .expect("a submission id in the reply");
        let run = submission
            .spans
            .iter()
            .find(|s| s.service == "code-execution" && s.name.starts_with("run "))
            .expect("the worker's run span");
        assert_eq!(
            run.attribute("app.submission.id"),
            Some(submission_id.as_str()),
            "baggage set at the gateway is read in the worker"
        );
    }
    // The services' JSON log lines carry the trace id of the span they were written under.
    for (service, message) in [
        ("gateway", "submission received"),
        ("code-manage", "job queued"),
        ("code-execution", "job started"),
        ("code-manage", "verdict received"),
    ] {
        let log = std::fs::read_to_string(outcome.log_dir.join(format!("{service}.log")))
            .expect("the service's log");
        let traces: Vec<String> = log
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["fields"]["message"] == message)
            .filter_map(|line| line["trace_id"].as_str().map(str::to_owned))
            .collect();
        let expected: Vec<&str> = outcome
            .submissions
            .iter()
            .map(|s| s.trace_id.as_str())
            .collect();
        assert_eq!(
            traces, expected,
            "{service}: `{message}` lines carry their trace ids"
        );
    }
    let failed = &outcome.submissions[2];
    let process = span(&failed.spans, "code-execution", "process code-execution");
    assert!(process.error, "the failing run marks its process span");
    assert!(process.attribute("error.type").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_per_submission_under_b3_multi() {
    let outcome = run("b3multi").await;
    for submission in &outcome.submissions {
        assert_attributes(&submission.spans);
        // No baggage propagator is configured: the entry stays at the gateway.
        let run = submission
            .spans
            .iter()
            .find(|s| s.service == "code-execution" && s.name.starts_with("run "))
            .expect("the worker's run span");
        assert_eq!(run.attribute("app.submission.id"), None);
    }
}
