//! The resource: SDK attributes, process and host attributes, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_SERVICE_NAME`, and what the code set, in that order of precedence (later wins).

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{ResourceDetector, TelemetryResourceDetector};
use opentelemetry_semantic_conventions::resource::{
    HOST_ARCH, HOST_NAME, OS_TYPE, PROCESS_EXECUTABLE_NAME, PROCESS_PID, SERVICE_NAME,
};

use crate::env::Reader;

/// `OTEL_SERVICE_NAME`.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// Builds the resource. `code_service_name` and `code_attributes` come from the builder and win
/// over the environment.
pub(crate) fn build(
    reader: &mut Reader,
    code_service_name: Option<&str>,
    code_attributes: &[KeyValue],
    detect_process_and_host: bool,
) -> Resource {
    let mut attributes: Vec<KeyValue> = Vec::new();
    // `TelemetryResourceDetector` reads no environment: telemetry.sdk.{name,language,version}.
    attributes.extend(
        TelemetryResourceDetector
            .detect()
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    if detect_process_and_host {
        attributes.extend(process_and_host());
    }
    let mut service_name = default_service_name();
    if let Some(value) = reader.string(OTEL_RESOURCE_ATTRIBUTES) {
        match parse_resource_attributes(&value) {
            Ok(parsed) => {
                for kv in parsed {
                    if kv.key.as_str() == SERVICE_NAME {
                        service_name = kv.value.to_string();
                    } else {
                        attributes.push(kv);
                    }
                }
            }
            Err(problem) => reader.warn(
                OTEL_RESOURCE_ATTRIBUTES,
                &value,
                problem,
                "no attributes from it (the spec discards the whole value)",
            ),
        }
    }
    if let Some(name) = reader.string(OTEL_SERVICE_NAME) {
        service_name = name;
    }
    for kv in code_attributes {
        if kv.key.as_str() == SERVICE_NAME {
            service_name = kv.value.to_string();
        } else {
            attributes.push(kv.clone());
        }
    }
    if let Some(name) = code_service_name {
        service_name = name.to_owned();
    }
    // The builder keeps the last value of a repeated key, so the order above is the precedence.
    Resource::builder_empty()
        .with_attributes(attributes)
        .with_service_name(service_name)
        .build()
}

/// `unknown_service:<executable name>`, the spec's default.
fn default_service_name() -> String {
    match executable_name() {
        Some(name) => format!("unknown_service:{name}"),
        None => "unknown_service".to_owned(),
    }
}

fn executable_name() -> Option<String> {
    let path = std::env::current_exe().ok()?;
    Some(path.file_name()?.to_str()?.to_owned())
}

/// Process and host attributes that cost no process spawn: `process.pid`,
/// `process.executable.name`, `host.name` (from the kernel, on Linux), `host.arch`, `os.type`.
/// Command-line arguments are left out on purpose: they often carry secrets.
fn process_and_host() -> Vec<KeyValue> {
    let mut attributes = vec![KeyValue::new(PROCESS_PID, i64::from(std::process::id()))];
    if let Some(name) = executable_name() {
        attributes.push(KeyValue::new(PROCESS_EXECUTABLE_NAME, name));
    }
    if let Some(host) = host_name() {
        attributes.push(KeyValue::new(HOST_NAME, host));
    }
    if let Some(arch) = host_arch() {
        attributes.push(KeyValue::new(HOST_ARCH, arch));
    }
    if let Some(os) = os_type() {
        attributes.push(KeyValue::new(OS_TYPE, os));
    }
    attributes
}

fn host_name() -> Option<String> {
    let from_kernel = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|name| name.trim().to_owned());
    from_kernel
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|name| !name.is_empty())
}

/// `host.arch` well-known values for the architectures Rust names.
fn host_arch() -> Option<&'static str> {
    Some(match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc" => "ppc32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        _ => return None,
    })
}

/// `os.type` well-known values.
fn os_type() -> Option<&'static str> {
    Some(match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "windows",
        "freebsd" => "freebsd",
        "netbsd" => "netbsd",
        "openbsd" => "openbsd",
        "dragonfly" => "dragonflybsd",
        "solaris" => "solaris",
        "illumos" => "solaris",
        "aix" => "aix",
        _ => return None,
    })
}

/// Parses `key1=value1,key2=value2`, values percent-decoded (W3C Baggage octets). Any error
/// discards the whole value, as the resource SDK spec asks.
pub(crate) fn parse_resource_attributes(value: &str) -> Result<Vec<KeyValue>, String> {
    let mut attributes = Vec::new();
    for member in value.split(',') {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let Some((key, raw)) = member.split_once('=') else {
            return Err(format!("has a member without '=' ({member:?})"));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("has a member with an empty key ({member:?})"));
        }
        let decoded = percent_decode(raw.trim()).ok_or_else(|| {
            format!("has a value that is not valid percent-encoded UTF-8 ({raw:?})")
        })?;
        attributes.push(KeyValue::new(key.to_owned(), decoded));
    }
    Ok(attributes)
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let parsed = parse_resource_attributes("a=1, b = x%20y ,,c=%E2%9C%93").unwrap();
        let pairs: Vec<(String, String)> = parsed
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "✓".into())
            ]
        );
    }

    #[test]
    fn any_error_discards_the_whole_value() {
        assert!(parse_resource_attributes("a=1,b").is_err());
        assert!(parse_resource_attributes("a=1,=2").is_err());
        assert!(parse_resource_attributes("a=%zz").is_err());
        assert!(parse_resource_attributes("a=%C3").is_err());
        assert!(parse_resource_attributes("a=%4").is_err());
    }
}
