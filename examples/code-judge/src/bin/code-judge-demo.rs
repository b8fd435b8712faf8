//! The demo: runs the code-judge platform in miniature on 127.0.0.1 — a redis-server, librdkafka's
//! mock Kafka cluster, an OTLP receiver, and the three services as processes — sends a handful of
//! submissions, and draws each one's trace as a waterfall. Fails loudly when a submission's spans
//! do not form one trace.
//!
//! ```text
//! cargo build -p code-judge --bins && target/debug/code-judge-demo
//! OTEL_PROPAGATORS=b3multi target/debug/code-judge-demo
//! ```

use std::process::ExitCode;

use code_judge::demo::{self, Binaries, Options};

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options {
        propagators: std::env::var("OTEL_PROPAGATORS").unwrap_or_default(),
        log_dir: None,
        collector: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty()),
    };
    let binaries = match Binaries::beside_current_exe() {
        Ok(binaries) => binaries,
        Err(error) => {
            eprintln!("cannot find the service binaries: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "OTEL_PROPAGATORS={}",
        if options.propagators.is_empty() {
            "<unset: tracecontext,baggage>"
        } else {
            &options.propagators
        }
    );
    let outcome = match demo::run(&binaries, &options).await {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("the demo failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(collector) = &options.collector {
        println!("\nthe services exported to {collector}; look these traces up there:");
        for submission in &outcome.submissions {
            println!(
                "  {}  {}: HTTP {} {}",
                submission.trace_id,
                submission.submission.label,
                submission.status,
                submission.body
            );
        }
        return ExitCode::SUCCESS;
    }
    let (text, problems) = demo::report(&outcome);
    println!("{text}");
    println!(
        "service logs (JSON, with trace ids): {}",
        outcome.log_dir.display()
    );
    if problems.is_empty() {
        let spans: usize = outcome.submissions.iter().map(|s| s.spans.len()).sum();
        println!(
            "\nOK: {} submissions, {} spans; every span of each submission shares its trace id \
             (HTTP -> gRPC -> Kafka -> worker -> Kafka -> gRPC -> HTTP, Redis inside)",
            outcome.submissions.len(),
            spans
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("\nFAILED: the traces are not what they should be:");
        for problem in problems {
            eprintln!("  - {problem}");
        }
        ExitCode::FAILURE
    }
}
