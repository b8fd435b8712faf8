//! The README's demo, run as the README runs it: it must show one trace across HTTP and gRPC.

use std::process::Command;

#[test]
fn the_demo_shows_one_trace_across_http_and_grpc() {
    for propagators in ["", "b3multi", "tracecontext,baggage,b3"] {
        let out = Command::new(env!("CARGO_BIN_EXE_demo"))
            .env("OTEL_PROPAGATORS", propagators)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{propagators:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("one trace across HTTP -> gRPC: 5 spans"),
            "{propagators:?}: {stdout}"
        );
        assert!(stdout.contains("response: hello, world"));
    }
}
