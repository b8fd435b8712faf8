//! `OTEL_PROPAGATORS`: the OpenTelemetry environment variable that chooses the propagators.

use std::fmt;
use std::sync::{Arc, RwLock};

use crate::{PropagatorKind, Propagators};

/// The environment variable's name.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

/// Something in an `OTEL_PROPAGATORS` value that was ignored. Each is logged once, as a warning,
/// by [`Propagators::from_env`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropagatorsWarning {
    /// A name no propagator has; it was skipped.
    Unknown(String),
    /// A name the OpenTelemetry spec lists (`jaeger`, `xray`, `ottrace`) but this crate does not
    /// implement; it was skipped.
    Unsupported(String),
    /// `none` stood beside other names; nothing is propagated.
    NoneWithOthers(String),
}

impl fmt::Display for PropagatorsWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropagatorsWarning::Unknown(name) => {
                write!(f, "{OTEL_PROPAGATORS}: unknown propagator {name:?} ignored")
            }
            PropagatorsWarning::Unsupported(name) => write!(
                f,
                "{OTEL_PROPAGATORS}: propagator {name:?} is not supported by otel-propagation and is ignored"
            ),
            PropagatorsWarning::NoneWithOthers(value) => write!(
                f,
                "{OTEL_PROPAGATORS}={value:?}: \"none\" is listed with other propagators; nothing is propagated"
            ),
        }
    }
}

impl Propagators {
    /// Parses an `OTEL_PROPAGATORS` value: a comma-separated list of `tracecontext`, `baggage`, `b3`,
    /// `b3multi` and `none`.
    ///
    /// Names are trimmed and case-insensitive; a repeated name counts once; an empty value means the
    /// default, `tracecontext,baggage`; `none` anywhere means no propagation; unknown names are
    /// skipped and reported.
    ///
    /// ```
    /// use otel_propagation::{PropagatorKind, Propagators, PropagatorsWarning};
    ///
    /// let (propagators, warnings) = Propagators::parse("b3multi,jaeger, TraceContext ,b3multi,foo");
    /// assert_eq!(propagators.kinds(), [PropagatorKind::B3Multi, PropagatorKind::TraceContext]);
    /// assert_eq!(warnings, [
    ///     PropagatorsWarning::Unsupported("jaeger".into()),
    ///     PropagatorsWarning::Unknown("foo".into()),
    /// ]);
    /// assert_eq!(Propagators::parse("").0, Propagators::default());
    /// assert!(Propagators::parse("none").0.is_none());
    /// ```
    pub fn parse(value: &str) -> (Propagators, Vec<PropagatorsWarning>) {
        let mut warnings = Vec::new();
        let names: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .collect();
        if names.is_empty() {
            return (Propagators::default(), warnings);
        }
        if names.iter().any(|name| name.eq_ignore_ascii_case("none")) {
            if names.len() > 1 {
                warnings.push(PropagatorsWarning::NoneWithOthers(value.to_owned()));
            }
            return (Propagators::none(), warnings);
        }
        let mut builder = Propagators::builder();
        for name in names {
            match PropagatorKind::from_name(name) {
                Some(kind) => builder = builder.with(kind),
                None if ["jaeger", "xray", "ottrace"]
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(name)) =>
                {
                    warnings.push(PropagatorsWarning::Unsupported(name.to_owned()))
                }
                None => warnings.push(PropagatorsWarning::Unknown(name.to_owned())),
            }
        }
        (builder.build(), warnings)
    }

    /// The propagators `OTEL_PROPAGATORS` names, or the default when it is unset or empty.
    ///
    /// Each ignored name is logged once as a `tracing` warning (target `otel_propagation`).
    pub fn from_env() -> Propagators {
        let value = std::env::var(OTEL_PROPAGATORS).unwrap_or_default();
        let (propagators, warnings) = Propagators::parse(&value);
        for warning in warnings {
            tracing::warn!(target: "otel_propagation", "{warning}");
        }
        propagators
    }

    /// Installs this set as the global text map propagator, the one instrumentation uses by default.
    ///
    /// Instrumentation can then find it again with [`Propagators::installed_global`] and take the
    /// direct `HeaderMap` path instead of the `TextMapPropagator` trait.
    pub fn install_global(self) {
        let installed = Arc::new(self);
        let mut slot = INSTALLED
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(installed.clone());
        opentelemetry::global::set_text_map_propagator(Installed(installed));
    }

    /// The global text map propagator, when it is still the set [`Propagators::install_global`]
    /// installed; `None` when nothing was installed that way or something else has replaced it.
    ///
    /// The check is exact: the installed set is kept alive here, so the address of its first field
    /// name can belong to no other propagator, and comparing it with the global propagator's first
    /// field tells them apart.
    pub fn installed_global() -> Option<Arc<Propagators>> {
        let installed = INSTALLED.read().ok()?.clone()?;
        let same =
            opentelemetry::global::get_text_map_propagator(|global| is_global(&installed, global));
        same.then_some(installed)
    }

    /// Runs `f` with the global text map propagator: `Ok` with the set [`Propagators::install_global`]
    /// installed when it is still the global one (for the direct `HeaderMap` paths), else `Err`
    /// with whatever the global propagator is. [`Propagators::installed_global`] without its
    /// reference counting and second look at the global: this runs for every request.
    pub fn with_global<R>(
        mut f: impl FnMut(Result<&Propagators, &dyn opentelemetry::propagation::TextMapPropagator>) -> R,
    ) -> R {
        let slot = INSTALLED.read().ok();
        let installed = slot.as_ref().and_then(|slot| slot.as_deref());
        opentelemetry::global::get_text_map_propagator(|global| match installed {
            Some(ours) if is_global(ours, global) => f(Ok(ours)),
            _ => f(Err(global)),
        })
    }
}

/// Whether `global` is `installed` itself: the installed set is kept alive in [`INSTALLED`], so the
/// address of its first field name can belong to no other propagator.
fn is_global(
    installed: &Propagators,
    global: &dyn opentelemetry::propagation::TextMapPropagator,
) -> bool {
    let first = installed.fields.first().map(|f| f.as_ptr());
    first.is_some() && global.fields().next().map(str::as_ptr) == first
}

/// What [`Propagators::install_global`] installed, kept alive for [`Propagators::installed_global`].
static INSTALLED: RwLock<Option<Arc<Propagators>>> = RwLock::new(None);

/// The global propagator's type: delegates to the shared set.
#[derive(Debug)]
struct Installed(Arc<Propagators>);

impl opentelemetry::propagation::TextMapPropagator for Installed {
    fn inject_context(
        &self,
        cx: &opentelemetry::Context,
        injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(
        &self,
        cx: &opentelemetry::Context,
        extractor: &dyn opentelemetry::propagation::Extractor,
    ) -> opentelemetry::Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        self.0.fields()
    }
}

/// Reads `OTEL_PROPAGATORS` and installs what it names as the global propagator, in one call.
///
/// ```
/// let installed = otel_propagation::install_global_from_env();
/// // With OTEL_PROPAGATORS unset: tracecontext,baggage.
/// # if std::env::var_os("OTEL_PROPAGATORS").is_none() {
/// assert_eq!(installed, otel_propagation::Propagators::default());
/// # }
/// ```
pub fn install_global_from_env() -> Propagators {
    let propagators = Propagators::from_env();
    propagators.clone().install_global();
    propagators
}
