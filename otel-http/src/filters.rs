//! Ready-made request filters for [`crate::OtelLayer::filter`].

use crate::head::RequestHead;

/// Skips health and readiness probes: paths starting with `/health`, `/healthz`, `/ready`,
/// `/readyz`, `/live`, `/livez`, `/ping`, and `/metrics` scrapes; instruments everything else.
///
/// ```
/// let layer = otel_http::OtelLayer::server().filter(otel_http::filters::not_health_check);
/// # let _ = layer;
/// ```
pub fn not_health_check(request: &RequestHead<'_>) -> bool {
    const PROBES: [&str; 5] = ["/health", "/ready", "/live", "/ping", "/metrics"];
    let path = request.uri.path();
    !PROBES.iter().any(|probe| {
        path.strip_prefix(probe)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', 'z', '?']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str) -> bool {
        let req = http::Request::get(path).body(()).unwrap();
        not_health_check(&RequestHead::of(&req))
    }

    #[test]
    fn probes_are_skipped() {
        for path in [
            "/health",
            "/healthz",
            "/health/db",
            "/ready",
            "/readyz",
            "/live",
            "/livez",
            "/ping",
            "/metrics",
        ] {
            assert!(!check(path), "{path}");
        }
        for path in [
            "/",
            "/users",
            "/healthy-recipes",
            "/pingpong",
            "/api/health",
        ] {
            assert!(check(path), "{path}");
        }
    }
}
