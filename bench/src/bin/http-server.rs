//! Serves one HTTP variant on 127.0.0.1 for load tests: `http-server <variant> <port>`.
//! `scripts/load-http.sh` drives it with wrk.

use std::process::ExitCode;

use otel_bench::http::{VARIANTS, install_providers_for, router};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("list") {
        VARIANTS.iter().for_each(|v| println!("{v}"));
        return ExitCode::SUCCESS;
    }
    let [variant, port] = args.as_slice() else {
        eprintln!("usage: http-server <variant> <port>; variants: {VARIANTS:?}");
        return ExitCode::FAILURE;
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("port must be a number");
        return ExitCode::FAILURE;
    };
    let (tracer_provider, _meter_provider) = install_providers_for(variant);
    let Some(app) = router(variant, &tracer_provider) else {
        eprintln!("unknown variant {variant}");
        return ExitCode::FAILURE;
    };
    // One worker thread: the server is pinned to one core, the load generator to the other.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
    ExitCode::SUCCESS
}
