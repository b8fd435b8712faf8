//! Serves one gRPC variant on 127.0.0.1 for load tests: `grpc-server <variant> <port>`;
//! `grpc-server --request FILE` writes one framed `Echo/Unary` request body for the load
//! generator. `scripts/load-grpc.sh` drives it with h2load.

use std::process::ExitCode;

use otel_bench::grpc::{VARIANTS, request_frame, service};
use otel_bench::http::install_providers;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [list] if list == "list" => {
            VARIANTS.iter().for_each(|v| println!("{v}"));
            ExitCode::SUCCESS
        }
        [flag, file] if flag == "--request" => match std::fs::write(file, request_frame()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{file}: {e}");
                ExitCode::FAILURE
            }
        },
        [variant, port] => {
            let Ok(port) = port.parse::<u16>() else {
                eprintln!("port must be a number");
                return ExitCode::FAILURE;
            };
            let (tracer_provider, _meter_provider) = install_providers();
            let Some(svc) = service(variant, &tracer_provider) else {
                eprintln!("unknown variant {variant}; variants: {VARIANTS:?}");
                return ExitCode::FAILURE;
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(serve(svc, port));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: grpc-server <variant> <port> | --request FILE");
            ExitCode::FAILURE
        }
    }
}

/// HTTP/2 over plain TCP, one connection task per client, as tonic's transport serves.
async fn serve(svc: otel_bench::grpc::GrpcService, port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let svc = svc.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper_util::service::TowerToHyperService::new(
                tower::ServiceBuilder::new()
                    .map_request(|req: http::Request<hyper::body::Incoming>| {
                        req.map(tonic::body::Body::new)
                    })
                    .service(svc),
            );
            let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(io, svc)
                .await;
        });
    }
}
