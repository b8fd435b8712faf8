//! Runs one propagation workload a given number of times, for callgrind.
//!
//! `propagation-ir <workload> <ours|ours-direct|upstream> <iterations>`; `propagation-ir list` names the
//! workloads. `scripts/callgrind-propagation.sh` runs it twice per workload with different counts
//! and divides the difference, so start-up and shutdown cancel out.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workloads = otel_bench::propagation::workloads();
    match args.as_slice() {
        [list] if list == "list" => {
            for w in &workloads {
                println!("{}\t{}", w.name, w.upstream_name);
            }
            ExitCode::SUCCESS
        }
        [name, side, iterations] => {
            let Some(mut workload) = workloads.into_iter().find(|w| w.name == name) else {
                eprintln!("unknown workload {name}");
                return ExitCode::FAILURE;
            };
            let Ok(iterations) = iterations.parse::<u64>() else {
                eprintln!("iterations must be a number");
                return ExitCode::FAILURE;
            };
            let Some(op) = workload.side(side) else {
                eprintln!("side must be one of {:?}", otel_bench::Workload::SIDES);
                return ExitCode::FAILURE;
            };
            for _ in 0..iterations {
                op();
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "usage: propagation-ir <workload> <ours|ours-direct|upstream> <iterations> | list"
            );
            ExitCode::FAILURE
        }
    }
}
