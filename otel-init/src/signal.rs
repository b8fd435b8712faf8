//! Waiting for the signal to stop.

/// Resolves when the process receives SIGTERM or SIGINT (Ctrl-C; on non-Unix systems only
/// Ctrl-C).
///
/// Hand it to a server's graceful shutdown, then shut telemetry down so buffered spans, metrics
/// and logs are exported before the process exits:
///
/// ```no_run
/// # async fn run(listener: tokio::net::TcpListener, app: axum::Router) {
/// let telemetry = otel_init::init();
/// axum::serve(listener, app)
///     .with_graceful_shutdown(otel_init::shutdown_signal())
///     .await
///     .ok();
/// let _ = telemetry.shutdown();
/// # }
/// ```
///
/// With tonic: `Server::builder().add_service(svc).serve_with_shutdown(addr, otel_init::shutdown_signal())`.
///
/// A signal handler that cannot be installed is reported and that signal is not waited for.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            crate::telemetry::report(&format!("cannot listen for SIGINT: {error}"));
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                crate::telemetry::report(&format!("cannot listen for SIGTERM: {error}"));
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
