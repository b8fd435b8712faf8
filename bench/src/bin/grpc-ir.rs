//! Drives unary gRPC calls in-process through a tonic server, for callgrind:
//! `grpc-ir <variant> <n>`; `scripts/callgrind-grpc.sh` divides the difference of two runs.

use std::process::ExitCode;

use otel_bench::grpc::{VARIANTS, drive, service};
use otel_bench::http::{install_providers, traceparent};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (variant, n) = match args.as_slice() {
        [list] if list == "list" => {
            VARIANTS.iter().for_each(|v| println!("{v}"));
            return ExitCode::SUCCESS;
        }
        [variant, n] => match n.parse::<u64>() {
            Ok(n) => (variant.as_str(), n),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let (tracer_provider, meter_provider) = install_providers();
    let Some(svc) = service(variant, &tracer_provider) else {
        return usage();
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(drive(svc, n, &traceparent(variant)));
    let _ = tracer_provider.shutdown();
    let _ = meter_provider.shutdown();
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: grpc-ir <variant> <calls> | list; variants: {VARIANTS:?}");
    ExitCode::FAILURE
}
