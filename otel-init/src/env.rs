//! Reading and checking environment values: where they come from, and the one warning a bad value
//! gets.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Where configuration values are read from: the process environment, or a map (tests, or a
/// configuration system that is not the environment).
#[derive(Clone)]
pub(crate) enum EnvSource {
    /// `std::env::var`.
    Process,
    /// A fixed set of values; anything not in it is unset.
    Map(Arc<HashMap<String, String>>),
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvSource::Process => f.write_str("Process"),
            EnvSource::Map(map) => f.debug_tuple("Map").field(&map.len()).finish(),
        }
    }
}

impl EnvSource {
    /// The value of `name`; unset, empty and whitespace-only values count as unset, as the spec
    /// says ("an empty value is the same as unset").
    pub(crate) fn get(&self, name: &str) -> Result<Option<String>, ConfigWarning> {
        let value = match self {
            EnvSource::Process => match std::env::var(name) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => return Ok(None),
                Err(std::env::VarError::NotUnicode(raw)) => {
                    return Err(ConfigWarning::new(
                        name,
                        raw.to_string_lossy(),
                        "is not valid UTF-8",
                        "the default",
                    ));
                }
            },
            EnvSource::Map(map) => match map.get(name) {
                Some(value) => value.clone(),
                None => return Ok(None),
            },
        };
        let trimmed = value.trim();
        if trimmed.is_empty() {
            Ok(None)
        } else {
            Ok(Some(trimmed.to_owned()))
        }
    }
}

/// A configuration value that was not used: the variable, the value, what is wrong with it and what
/// was used instead.
///
/// [`init`](crate::init) reports each one once (see [`Telemetry::warnings`](crate::Telemetry::warnings)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The environment variable (or setting) the value came from.
    pub variable: String,
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
    /// What was used instead.
    pub used_instead: String,
}

impl ConfigWarning {
    pub(crate) fn new(
        variable: impl Into<String>,
        value: impl Into<String>,
        problem: impl Into<String>,
        used_instead: impl Into<String>,
    ) -> Self {
        ConfigWarning {
            variable: variable.into(),
            value: value.into(),
            problem: problem.into(),
            used_instead: used_instead.into(),
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} {}; using {}",
            self.variable, self.value, self.problem, self.used_instead
        )
    }
}

/// Reads values from an [`EnvSource`] and collects a warning for each bad one.
#[derive(Debug)]
pub(crate) struct Reader {
    source: EnvSource,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl Reader {
    pub(crate) fn new(source: EnvSource) -> Self {
        Reader {
            source,
            warnings: Vec::new(),
        }
    }

    /// The trimmed value, or `None` when unset, empty or unreadable (then warned).
    pub(crate) fn string(&mut self, name: &str) -> Option<String> {
        match self.source.get(name) {
            Ok(value) => value,
            Err(warning) => {
                self.warnings.push(warning);
                None
            }
        }
    }

    pub(crate) fn warn(
        &mut self,
        name: &str,
        value: &str,
        problem: impl Into<String>,
        used_instead: impl Into<String>,
    ) {
        // A variable read for each signal is reported once.
        if self
            .warnings
            .iter()
            .any(|w| w.variable == name && w.value == value)
        {
            return;
        }
        self.warnings
            .push(ConfigWarning::new(name, value, problem, used_instead));
    }

    /// A spec boolean: `true` or `false`, case-insensitive. Anything else is warned about and
    /// counts as `default`.
    pub(crate) fn boolean(&mut self, name: &str, default: bool) -> bool {
        let Some(value) = self.string(name) else {
            return default;
        };
        if value.eq_ignore_ascii_case("true") {
            true
        } else if value.eq_ignore_ascii_case("false") {
            false
        } else {
            self.warn(
                name,
                &value,
                "is not \"true\" or \"false\"",
                default.to_string(),
            );
            default
        }
    }

    /// A non-negative whole number of milliseconds; `default` when unset or bad (then warned).
    pub(crate) fn millis(&mut self, name: &str, default: Duration) -> Duration {
        let Some(value) = self.string(name) else {
            return default;
        };
        match value.parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => {
                self.warn(
                    name,
                    &value,
                    "is not a whole number of milliseconds",
                    format!("the default {} ms", default.as_millis()),
                );
                default
            }
        }
    }

    /// A positive whole number; `default` when unset or bad (then warned).
    pub(crate) fn positive(&mut self, name: &str, default: usize) -> usize {
        let Some(value) = self.string(name) else {
            return default;
        };
        match value.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                self.warn(
                    name,
                    &value,
                    "is not a positive whole number",
                    format!("the default {default}"),
                );
                default
            }
        }
    }
}
