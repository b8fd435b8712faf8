//! [`Providers`]: where a crate's tracer and meter come from.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::InstrumentationScope;
use opentelemetry::global::{BoxedTracer, ObjectSafeTracerProvider};
use opentelemetry::metrics::{Meter, MeterProvider};

/// The instrumentation scope of a crate: its name and version, and the semantic conventions'
/// schema URL its attributes follow.
///
/// ```
/// let scope = otel_core::scope(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
/// assert_eq!(scope.name(), "otel-core");
/// ```
pub fn scope(name: &'static str, version: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(name)
        .with_version(version)
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
}

/// The tracer and meter provider an instrumentation records with: the ones handed in, else the
/// global ones, resolved on first use: instrumentation may be built before the application
/// installs its providers, but the first span or measurement fixes the ones it uses, so install
/// them (`otel_init::init()`) before traffic flows.
#[derive(Clone)]
pub struct Providers {
    scope: InstrumentationScope,
    tracer_provider: Option<Arc<dyn ObjectSafeTracerProvider + Send + Sync>>,
    meter_provider: Option<Arc<dyn MeterProvider + Send + Sync>>,
    tracer: Arc<OnceLock<BoxedTracer>>,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Providers")
            .field("scope", &self.scope.name())
            .field("tracer_provider", &self.tracer_provider.is_some())
            .field("meter_provider", &self.meter_provider.is_some())
            .finish()
    }
}

impl Providers {
    /// The global providers, under `scope`.
    pub fn new(scope: InstrumentationScope) -> Self {
        Providers {
            scope,
            tracer_provider: None,
            meter_provider: None,
            tracer: Arc::default(),
        }
    }

    /// Takes spans from `provider` instead of the global one.
    pub fn set_tracer_provider<P>(&mut self, provider: P)
    where
        P: ObjectSafeTracerProvider + Send + Sync + 'static,
    {
        self.tracer_provider = Some(Arc::new(provider));
        self.tracer = Arc::default();
    }

    /// Records metrics with `provider` instead of the global one.
    pub fn set_meter_provider<P>(&mut self, provider: P)
    where
        P: MeterProvider + Send + Sync + 'static,
    {
        self.meter_provider = Some(Arc::new(provider));
    }

    /// The scope spans and metrics are recorded under.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }

    /// The tracer, made once: from the provider handed in, else the global one.
    pub fn tracer(&self) -> &BoxedTracer {
        self.tracer.get_or_init(|| match &self.tracer_provider {
            Some(provider) => BoxedTracer::new(provider.boxed_tracer(self.scope.clone())),
            None => opentelemetry::global::tracer_with_scope(self.scope.clone()),
        })
    }

    /// A meter from the provider handed in, else the global one. Create instruments once and keep
    /// them: each call asks the provider anew.
    pub fn meter(&self) -> Meter {
        match &self.meter_provider {
            Some(provider) => provider.meter_with_scope(self.scope.clone()),
            None => opentelemetry::global::meter_with_scope(self.scope.clone()),
        }
    }

    /// Whether metrics go to the global meter provider (no provider was handed in).
    pub fn uses_global_meter_provider(&self) -> bool {
        self.meter_provider.is_none()
    }
}
