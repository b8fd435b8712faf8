//! Criterion timings of the propagation workloads, ours beside upstream's in one run.
//! Wall-clock numbers on a shared machine are noisy: read the ratios, and use
//! `scripts/callgrind-propagation.sh` for deterministic instruction counts.

use criterion::{Criterion, criterion_group, criterion_main};

fn propagation(c: &mut Criterion) {
    for mut workload in otel_bench::propagation::workloads() {
        let mut group = c.benchmark_group(workload.name);
        for side in otel_bench::Workload::SIDES {
            if let Some(op) = workload.side(side) {
                group.bench_function(side, |b| b.iter(&mut *op));
            }
        }
        group.finish();
    }
}

criterion_group!(benches, propagation);
criterion_main!(benches);
