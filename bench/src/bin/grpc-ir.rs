//! Drives unary gRPC calls in-process through a tonic server, for callgrind:
//! `grpc-ir <variant> <n>`; `scripts/callgrind-grpc.sh` divides the difference of two runs.

use otel_bench::grpc::{VARIANTS, drive, service};
use otel_bench::http::{install_providers, traceparent};

fn main() -> std::process::ExitCode {
    otel_bench::driver_main(&VARIANTS, |variant, n| {
        let (tracer_provider, meter_provider) = install_providers();
        let Some(svc) = service(variant, &tracer_provider) else {
            return false;
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(drive(svc, n, &traceparent(variant)));
        let _ = tracer_provider.shutdown();
        let _ = meter_provider.shutdown();
        true
    })
}
