//! Which RPC attribute names to emit, chosen as `OTEL_SEMCONV_STABILITY_OPT_IN` does for other
//! conventions: the stable names by default (`rpc.system.name`, fully qualified `rpc.method`,
//! `rpc.response.status_code`); `rpc/dup` adds the older ones (`rpc.system`, `rpc.service`,
//! integer `rpc.grpc.status_code`); `rpc/old` emits only the older ones (with the short
//! `rpc.method`).

use std::sync::OnceLock;

/// The attribute sets to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mode {
    pub(crate) new: bool,
    pub(crate) old: bool,
}

/// Parses an `OTEL_SEMCONV_STABILITY_OPT_IN` value.
pub(crate) fn parse(value: &str) -> Mode {
    let tokens: Vec<&str> = value.split(',').map(str::trim).collect();
    if tokens.contains(&"rpc/dup") {
        Mode {
            new: true,
            old: true,
        }
    } else if tokens.contains(&"rpc/old") {
        Mode {
            new: false,
            old: true,
        }
    } else {
        Mode {
            new: true,
            old: false,
        }
    }
}

/// The mode the environment says, read once.
pub(crate) fn mode() -> Mode {
    static MODE: OnceLock<Mode> = OnceLock::new();
    *MODE.get_or_init(|| parse(&std::env::var("OTEL_SEMCONV_STABILITY_OPT_IN").unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(
            parse(""),
            Mode {
                new: true,
                old: false
            }
        );
        assert_eq!(
            parse("http, rpc/dup"),
            Mode {
                new: true,
                old: true
            }
        );
        assert_eq!(
            parse("rpc/old"),
            Mode {
                new: false,
                old: true
            }
        );
        assert_eq!(
            parse("rpc"),
            Mode {
                new: true,
                old: false
            }
        );
    }
}
