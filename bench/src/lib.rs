//! Workloads shared by the criterion benches and the callgrind driver, so both measure the same
//! thing: each is one operation with its inputs built once, for ours and for the upstream crate.

pub mod floor;
pub mod grpc;
pub mod http;
pub mod propagation;

/// The command line of the instruction-count drivers: `<driver> <variant> <n>` runs `run(variant,
/// n)`; `<driver> list` prints the variants. Returns the process's exit code.
pub fn driver_main(
    variants: &[&str],
    run: impl FnOnce(&str, u64) -> bool,
) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: <variant> <count> | list; variants: {variants:?}");
        std::process::ExitCode::FAILURE
    };
    match args.as_slice() {
        [list] if list == "list" => {
            variants.iter().for_each(|v| println!("{v}"));
            std::process::ExitCode::SUCCESS
        }
        [variant, n] => match n.parse::<u64>() {
            Ok(n) if run(variant, n) => std::process::ExitCode::SUCCESS,
            _ => usage(),
        },
        _ => usage(),
    }
}

/// One operation, run many times.
pub type Op = Box<dyn FnMut()>;

/// An operation measured for our crate and for its upstream counterpart.
pub struct Workload {
    /// A stable name, used on the command line and in reports.
    pub name: &'static str,
    /// The upstream crate's implementation the comparison is against.
    pub upstream_name: &'static str,
    /// Ours through the `TextMapPropagator` trait and our `HeaderExtractor`/`HeaderInjector`.
    pub ours: Op,
    /// Ours straight over the `HeaderMap` (`Propagators::extract_headers`/`inject_headers`), the
    /// path our layers take.
    pub ours_direct: Op,
    /// Upstream's, through the trait and `opentelemetry-http`'s carriers.
    pub upstream: Op,
}

impl Workload {
    /// The sides, by the names the command line and reports use.
    pub const SIDES: [&'static str; 3] = ["ours", "ours-direct", "upstream"];

    /// The operation for one side.
    pub fn side(&mut self, side: &str) -> Option<&mut Op> {
        match side {
            "ours" => Some(&mut self.ours),
            "ours-direct" => Some(&mut self.ours_direct),
            "upstream" => Some(&mut self.upstream),
            _ => None,
        }
    }
}
