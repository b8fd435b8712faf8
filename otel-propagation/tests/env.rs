//! `OTEL_PROPAGATORS`: parsing rules, and reading the real environment in a child process.

use std::process::Command;

use opentelemetry::propagation::TextMapPropagator;
use otel_propagation::{PropagatorKind, Propagators, PropagatorsWarning};

use PropagatorKind::*;

#[test]
fn parse_rules() {
    let cases: &[(&str, &[PropagatorKind])] = &[
        ("", &[TraceContext, Baggage]),
        ("  ", &[TraceContext, Baggage]),
        (" , ,", &[TraceContext, Baggage]),
        ("tracecontext", &[TraceContext]),
        ("baggage,tracecontext", &[Baggage, TraceContext]),
        ("tracecontext,baggage,b3", &[TraceContext, Baggage, B3]),
        ("b3multi", &[B3Multi]),
        (
            " TraceContext , BAGGAGE ,B3MULTI",
            &[TraceContext, Baggage, B3Multi],
        ),
        ("b3,b3,tracecontext,b3", &[B3, TraceContext]),
        ("b3,b3multi", &[B3, B3Multi]),
        ("none", &[]),
        ("NONE", &[]),
        ("tracecontext,none", &[]),
        ("foo", &[]),
        ("foo,baggage", &[Baggage]),
    ];
    for (value, kinds) in cases {
        assert_eq!(Propagators::parse(value).0.kinds(), *kinds, "{value:?}");
    }
}

#[test]
fn parse_warnings() {
    assert!(Propagators::parse("tracecontext,baggage").1.is_empty());
    assert!(Propagators::parse("none").1.is_empty());
    assert_eq!(
        Propagators::parse("xray,foo , jaeger,ottrace").1,
        [
            PropagatorsWarning::Unsupported("xray".into()),
            PropagatorsWarning::Unknown("foo".into()),
            PropagatorsWarning::Unsupported("jaeger".into()),
            PropagatorsWarning::Unsupported("ottrace".into()),
        ]
    );
    let (p, warnings) = Propagators::parse("b3,none");
    assert!(p.is_none());
    assert_eq!(
        warnings,
        [PropagatorsWarning::NoneWithOthers("b3,none".into())]
    );
    assert!(
        warnings[0].to_string().contains("\"b3,none\""),
        "shows the user's value"
    );
}

#[test]
fn fields_are_the_union_in_order() {
    let p = Propagators::parse("b3multi,tracecontext,baggage,b3").0;
    let fields: Vec<&str> = p.fields().collect();
    assert_eq!(
        fields,
        [
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-sampled",
            "x-b3-flags",
            "traceparent",
            "tracestate",
            "baggage",
            "b3"
        ]
    );
    assert_eq!(Propagators::none().fields().count(), 0);
}

/// Runs [`env_child`] in a fresh process with `OTEL_PROPAGATORS` set (or unset) and returns its
/// stdout.
fn run_child(value: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "env_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    match value {
        Some(v) => cmd.env("OTEL_PROPAGATORS", v),
        None => cmd.env_remove("OTEL_PROPAGATORS"),
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {stdout}"))
}

#[test]
fn from_env_installs_the_global_propagator() {
    let out = run_child(None);
    assert_eq!(line(&out, "KINDS="), "tracecontext,baggage");
    assert_eq!(
        line(&out, "GLOBAL_FIELDS="),
        "traceparent,tracestate,baggage"
    );

    let out = run_child(Some(""));
    assert_eq!(
        line(&out, "KINDS="),
        "tracecontext,baggage",
        "empty means unset"
    );

    let out = run_child(Some("tracecontext,baggage,b3"));
    assert_eq!(line(&out, "KINDS="), "tracecontext,baggage,b3");
    assert_eq!(
        line(&out, "GLOBAL_FIELDS="),
        "traceparent,tracestate,baggage,b3"
    );
    assert_eq!(out.matches("WARN").count(), 0);

    let out = run_child(Some("none"));
    assert_eq!(line(&out, "KINDS="), "");
    assert_eq!(line(&out, "GLOBAL_FIELDS="), "");
}

#[test]
fn from_env_warns_once_per_ignored_name() {
    let out = run_child(Some("tracecontext,bogus,jaeger"));
    assert_eq!(line(&out, "KINDS="), "tracecontext");
    let warnings: Vec<&str> = out.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{out}");
    assert!(
        warnings[0].contains("unknown propagator \"bogus\""),
        "{out}"
    );
    assert!(warnings[1].contains("\"jaeger\" is not supported"), "{out}");
}

#[test]
#[ignore = "run in a child process by the tests above"]
fn env_child() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .without_time()
        .with_ansi(false)
        .init();
    // libtest prints the test's name without a newline first.
    println!();
    let installed = otel_propagation::install_global_from_env();
    let kinds: Vec<&str> = installed.kinds().iter().map(|k| k.name()).collect();
    println!("KINDS={}", kinds.join(","));
    opentelemetry::global::get_text_map_propagator(|global| {
        println!(
            "GLOBAL_FIELDS={}",
            global.fields().collect::<Vec<_>>().join(",")
        );
    });
}

#[test]
fn the_installed_global_is_found_until_replaced() {
    // Runs in a child process: the global propagator is process-wide.
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "installed_global_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[ignore = "run in a child process by the test above"]
fn installed_global_child() {
    let with_global_is_ours = || Propagators::with_global(|global| global.ok().cloned());
    assert!(
        Propagators::installed_global().is_none(),
        "nothing installed yet"
    );
    assert_eq!(with_global_is_ours(), None);
    let ours = Propagators::builder().tracecontext().b3().build();
    ours.clone().install_global();
    assert_eq!(Propagators::installed_global().as_deref(), Some(&ours));
    assert_eq!(with_global_is_ours().as_ref(), Some(&ours));
    // Someone else's propagator with the very same field names is not mistaken for ours.
    opentelemetry::global::set_text_map_propagator(
        Propagators::builder().tracecontext().b3().build(),
    );
    assert!(Propagators::installed_global().is_none());
    assert_eq!(with_global_is_ours(), None);
    Propagators::with_global(|global| {
        let fields: Vec<_> = global.err().unwrap().fields().collect();
        assert_eq!(fields, ["traceparent", "tracestate", "b3"]);
    });
    ours.clone().install_global();
    assert!(Propagators::installed_global().is_some());
    assert!(with_global_is_ours().is_some());
}
