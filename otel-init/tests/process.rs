//! Child-process tests: `init()` reading the real process environment (each child has its own,
//! so nothing races), and SIGTERM flushing what was buffered.
//!
//! The test binary runs itself again with `OTEL_INIT_TEST_CHILD` set to the role; the `child_*`
//! functions are ignored in a normal run (and do nothing without their role).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use integration_tests::otlp::{Receiver, attribute, hex};
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _};

const ROLE: &str = "OTEL_INIT_TEST_CHILD";

fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// Starts this test binary running only `test`, with a clean `OTEL_*` environment plus `vars`.
fn spawn_child(test: &str, role: &str, vars: &[(&str, String)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.env(ROLE, role);
    for (name, value) in vars {
        command.env(name, value);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Lines of the child's stdout, as they come.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn wait_for_line(lines: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the child never printed {prefix:?}"));
        // libtest's "test name ... " may share the line.
        if let Some(at) = line.find(prefix) {
            return line[at..].to_owned();
        }
    }
}

fn wait_for_exit(child: &mut Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

#[test]
fn init_reads_the_process_environment() {
    let receiver = Receiver::start();
    let mut child = spawn_child(
        "child_env",
        "env",
        &[
            ("OTEL_SERVICE_NAME", "env-child".into()),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=payments".into()),
            // Read by opentelemetry-otlp itself.
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()),
            ("OTEL_TRACES_SAMPLER_ARG", "1".into()),
            ("OTEL_PROPAGATORS", "b3".into()),
            ("OTEL_METRICS_EXPORTER", "none".into()),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "many".into()),
        ],
    );
    let lines = stdout_lines(&mut child);
    let injected = wait_for_line(&lines, "injected ");
    let trace_id = wait_for_line(&lines, "trace_id ")["trace_id ".len()..].to_owned();
    let (status, stderr) = wait_for_exit(&mut child);
    assert!(status.success(), "{stderr}");

    // One warning, on stderr since no subscriber was installed yet, naming variable, value and default.
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("otel-init: warning:"))
        .collect();
    assert_eq!(
        warnings,
        [
            "otel-init: warning: OTEL_BSP_MAX_QUEUE_SIZE=\"many\" is not a positive whole number; using the default 2048"
        ],
        "{stderr}"
    );
    // OTEL_PROPAGATORS=b3: the single b3 header.
    assert!(injected.starts_with("injected b3="), "{injected}");
    assert!(injected.contains(&trace_id), "{injected}");

    let spans = receiver.spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let (resource, span) = &spans[0];
    assert_eq!(span.name, "from the child");
    assert_eq!(hex(&span.trace_id), trace_id);
    assert_eq!(
        attribute(resource, "service.name").as_deref(),
        Some("env-child")
    );
    assert_eq!(attribute(resource, "team").as_deref(), Some("payments"));

    let logs = receiver.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(hex(&logs[0].1.trace_id), trace_id);
    assert!(receiver.metrics().is_empty(), "OTEL_METRICS_EXPORTER=none");
}

#[test]
#[ignore = "run by its parent test, in a child process"]
fn child_env() {
    if role().as_deref() != Some("env") {
        return;
    }
    use tracing_subscriber::layer::SubscriberExt;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let telemetry = otel_init::init();
        assert_eq!(telemetry.warnings().len(), 1);
        let subscriber = tracing_subscriber::registry().with(telemetry.logs_layer());
        let tracer = opentelemetry::global::tracer("child");
        let cx = opentelemetry::Context::current_with_span(tracer.start("from the child"));
        {
            let _attached = cx.clone().attach();
            tracing::subscriber::with_default(subscriber, || tracing::info!("inside the span"));
            let mut headers = std::collections::HashMap::new();
            opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut headers));
            let mut pairs: Vec<_> = headers.into_iter().collect();
            pairs.sort();
            let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("injected {}", pairs.join(" "));
        }
        println!("trace_id {}", cx.span().span_context().trace_id());
        drop(cx);
        telemetry.shutdown().expect("shutdown");
    });
}

#[cfg(unix)]
#[test]
fn sigterm_flushes_what_was_buffered() {
    let receiver = Receiver::start();
    let mut child = spawn_child(
        "child_sigterm",
        "sigterm",
        &[
            ("OTEL_SERVICE_NAME", "sigterm-child".into()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint()),
            // Nothing leaves before shutdown on its own.
            ("OTEL_BSP_SCHEDULE_DELAY", "600000".into()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "600000".into()),
            ("OTEL_LOGS_EXPORTER", "none".into()),
        ],
    );
    let lines = stdout_lines(&mut child);
    wait_for_line(&lines, "ready");
    assert!(receiver.spans().is_empty(), "still buffered");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let shutdown = wait_for_line(&lines, "shutdown ");
    let (status, stderr) = wait_for_exit(&mut child);
    assert!(status.success(), "{stderr}");
    assert_eq!(shutdown, "shutdown Ok(())");
    let spans = receiver.spans();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    assert_eq!(names, ["buffered"]);
    assert_eq!(
        attribute(&spans[0].0, "service.name").as_deref(),
        Some("sigterm-child")
    );
    assert!(
        receiver.metrics().iter().any(|(_, m)| m.name == "jobs"),
        "metrics flushed too"
    );
}

#[test]
#[ignore = "run by its parent test, in a child process"]
fn child_sigterm() {
    if role().as_deref() != Some("sigterm") {
        return;
    }
    use opentelemetry::metrics::MeterProvider as _;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let telemetry = otel_init::init();
        opentelemetry::global::tracer("child")
            .start("buffered")
            .end();
        telemetry
            .meter_provider()
            .unwrap()
            .meter("child")
            .u64_counter("jobs")
            .build()
            .add(1, &[]);
        // Poll once so the handlers are installed before the parent is told to signal.
        let signal = otel_init::shutdown_signal();
        tokio::pin!(signal);
        tokio::select! {
            biased;
            () = &mut signal => panic!("signalled too early"),
            () = tokio::task::yield_now() => {}
        }
        println!("ready");
        signal.await;
        println!("shutdown {:?}", telemetry.shutdown());
    });
}

#[test]
fn global_subscriber_follows_explicit_parents_and_inactive_context() {
    let mut child = spawn_child(
        "child_global_subscriber",
        "global-subscriber",
        &[
            ("OTEL_TRACES_EXPORTER", "none".into()),
            ("OTEL_METRICS_EXPORTER", "none".into()),
            ("OTEL_LOGS_EXPORTER", "none".into()),
        ],
    );
    let lines = stdout_lines(&mut child);
    let a = wait_for_line(&lines, "span a ")["span a ".len()..].to_owned();
    let b = wait_for_line(&lines, "span b ")["span b ".len()..].to_owned();
    let (status, stderr) = wait_for_exit(&mut child);
    assert!(status.success(), "{stderr}");
    // Until the reader thread sees the end of the pipe.
    let logged: Vec<String> = lines.iter().collect();
    let find = |message: &str| {
        logged
            .iter()
            .find(|l| l.contains(message))
            .unwrap_or_else(|| panic!("{message:?} not in {logged:?}"))
            .clone()
    };
    assert!(find("current span a").ends_with(&a), "{logged:?}");
    assert!(find("explicit parent b").ends_with(&b), "{logged:?}");
    assert!(!find("outside").contains("trace_id"), "{logged:?}");
}

#[test]
#[ignore = "run by its parent test, in a child process"]
fn child_global_subscriber() {
    if role().as_deref() != Some("global-subscriber") {
        return;
    }
    use opentelemetry::trace::TracerProvider as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let telemetry = otel_init::init();
    let tracer = telemetry.tracer_provider().unwrap().tracer("child");
    tracing_subscriber::registry()
        // Context activation off: only the fallback through tracing-opentelemetry finds the span.
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_context_activation(false),
        )
        .with(otel_init::logs::text_layer().with_ansi(false))
        .init();
    let a = tracing::info_span!("a");
    let b = tracing::info_span!("b");
    let ids = |span: &tracing::Span| {
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        format!(
            "trace_id={} span_id={} trace_flags=01",
            sc.trace_id(),
            sc.span_id()
        )
    };
    println!();
    println!("span a {}", ids(&a));
    println!("span b {}", ids(&b));
    a.in_scope(|| {
        tracing::info!("current span a");
        tracing::info!(parent: &b, "explicit parent b");
    });
    tracing::info!("outside");
    drop(telemetry);
}
