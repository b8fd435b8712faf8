//! `OTEL_METRICS_EXPORTER=prometheus`: a scrape endpoint serving the text exposition format at
//! any path (Prometheus asks for `/metrics`).
//!
//! The server runs on a thread of its own with a one-thread tokio runtime, so it works whether or
//! not the application runs on tokio and never competes with its request handling.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use opentelemetry_prometheus::PrometheusExporter;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::sync::oneshot;

/// The running scrape endpoint; [`Server::stop`] ends it.
#[derive(Debug)]
pub(crate) struct Server {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub(crate) address: SocketAddr,
}

impl Server {
    pub(crate) fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds `address` (so a port in use is reported at start-up) and starts serving.
pub(crate) fn start(address: SocketAddr) -> Result<(PrometheusExporter, Server), String> {
    let registry = Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()
        .map_err(|error| format!("could not be set up ({error})"))?;
    let listener = std::net::TcpListener::bind(address)
        .map_err(|error| format!("cannot listen on {address} ({error})"))?;
    let bound = listener.local_addr().unwrap_or(address);
    listener
        .set_nonblocking(true)
        .map_err(|error| format!("cannot listen on {address} ({error})"))?;
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("otel-init-prometheus".into())
        .spawn(move || serve(listener, registry, stopped))
        .map_err(|error| format!("cannot start its thread ({error})"))?;
    Ok((
        exporter,
        Server {
            stop: Some(stop),
            thread: Some(thread),
            address: bound,
        },
    ))
}

fn serve(listener: std::net::TcpListener, registry: Registry, mut stopped: oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            crate::telemetry::report(&format!("Prometheus endpoint: no runtime ({error})"));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(error) => {
                crate::telemetry::report(&format!("Prometheus endpoint: {error}"));
                return;
            }
        };
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        // A connection that went away before it was accepted: the next one.
                        Err(error) if matches!(
                            error.kind(),
                            std::io::ErrorKind::ConnectionAborted
                                | std::io::ErrorKind::ConnectionRefused
                                | std::io::ErrorKind::ConnectionReset
                        ) => continue,
                        // Out of file descriptors, say: the same error comes back at once, so
                        // wait a little (as axum's `serve` does) rather than spin on it.
                        Err(_) => {
                            tokio::select! {
                                _ = &mut stopped => return,
                                _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => continue,
                            }
                        }
                    };
                    let registry = registry.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                            let registry = registry.clone();
                            async move { Ok::<_, Infallible>(scrape(&registry, &request)) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        }
    });
}

fn scrape(registry: &Registry, _request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    let status = match encoder.encode(&registry.gather(), &mut body) {
        Ok(()) => hyper::StatusCode::OK,
        Err(_) => hyper::StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(encoder.format_type()) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
