//! Drives Redis commands from a client against a local redis-server, for callgrind:
//! `redis-ir <variant> <n>` (the server at `REDIS_URL`, default `redis://127.0.0.1:6379/`).
//!
//! Variants are `{connection}-{operation}`. Connections: `bare` (redis-rs's
//! `MultiplexedConnection`), `floor` (one CLIENT span with a fixed name and no attributes per
//! operation, through the global tracer: the least any wrapper on the OpenTelemetry API does),
//! `floor-attrs` (the floor's span with ours' six attributes made as cheaply as they can be:
//! static names, a shared address, and the operation's statement copied into a fresh string per
//! span: what the SDK and the allocator charge for the attributes, whoever builds them),
//! `ours` (`otel_redis::TracedConnection`, traces with sanitized statements, no metrics),
//! `ours-metrics` (traces and metrics). Operations: `get`, `set`, `pipeline10` (five `SET`s and
//! five `GET`s in one pipeline), `get1024keys` (`GET` of 1,024 keys in turn, so that no statement
//! repeats). SDK providers export to exporters that discard; every 128
//! operations the driver sleeps 1 ms so the batch span processor's thread can drain.
//! `scripts/callgrind-redis.sh` runs two counts per variant and divides the difference.
//!
//! `redis-ir throughput [rounds] [millis]` instead measures loopback throughput: interleaved
//! rounds (default 15 × 200 ms per cell) of `GET` and `SET` one at a time, `GET` with 16 requests
//! in flight on the connection, and the 10-command pipeline, for each connection kind in a
//! rotating order; it prints per-round ratios to bare (median, min–max) and ours ÷ floor.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::global::{BoxedSpan, BoxedTracer};
use opentelemetry::trace::{Span, SpanKind, Tracer};
use opentelemetry::{Context, KeyValue};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// The connection kinds; the throughput mode runs the first [`THROUGHPUT_KINDS`].
const CONNECTIONS: [&str; 5] = ["bare", "floor", "ours", "ours-metrics", "floor-attrs"];
const THROUGHPUT_KINDS: usize = 5;
const OPERATIONS: [&str; 4] = ["get", "set", "pipeline10", "get1024keys"];
const VARIANTS: [&str; 20] = [
    "bare-get",
    "floor-get",
    "floor-attrs-get",
    "ours-get",
    "ours-metrics-get",
    "bare-set",
    "floor-set",
    "floor-attrs-set",
    "ours-set",
    "ours-metrics-set",
    "bare-pipeline10",
    "floor-pipeline10",
    "floor-attrs-pipeline10",
    "ours-pipeline10",
    "ours-metrics-pipeline10",
    "bare-get1024keys",
    "floor-get1024keys",
    "floor-attrs-get1024keys",
    "ours-get1024keys",
    "ours-metrics-get1024keys",
];

/// The floor: one attribute-less CLIENT span per operation, under the current context; with
/// `attributes`, the span has ours' attributes, made as cheaply as they can be.
#[derive(Clone)]
struct Floor<C> {
    inner: C,
    tracer: Arc<BoxedTracer>,
    attributes: Option<FixedAttributes>,
}

/// What `floor-attrs` puts on each span: a known operation's attributes, with the statement
/// fixed for the run (copied into a fresh string per span, as any statement must be).
#[derive(Clone)]
struct FixedAttributes {
    operation: &'static str,
    address: opentelemetry::StringValue,
    port: i64,
    statement: Arc<str>,
}

impl<C> Floor<C> {
    fn span(&self) -> BoxedSpan {
        Context::map_current(|cx| {
            let mut builder = self.tracer.span_builder("redis");
            builder.span_kind = Some(SpanKind::Client);
            if let Some(fixed) = &self.attributes {
                // The keys spelled out: the bench does not depend on the conventions crate.
                builder.name = fixed.operation.into();
                builder.attributes = Some(vec![
                    KeyValue::new("db.system.name", "redis"),
                    KeyValue::new("db.operation.name", fixed.operation),
                    KeyValue::new("db.namespace", "0"),
                    KeyValue::new("server.address", fixed.address.clone()),
                    KeyValue::new("server.port", fixed.port),
                    KeyValue::new("db.query.text", String::from(&*fixed.statement)),
                ]);
            }
            builder.start_with_context(&*self.tracer, cx)
        })
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for Floor<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let mut span = self.span();
        let reply = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = reply.await;
            span.end();
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let mut span = self.span();
        let replies = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = replies.await;
            span.end();
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// One operation, built once.
enum Operation {
    Command(Cmd),
    Pipeline(Pipeline),
    /// `GET` of 1,024 keys in turn: no statement repeats within the statement cache's reach.
    Commands(Vec<Cmd>, std::sync::atomic::AtomicUsize),
}

impl Operation {
    /// The operation name and sanitized statement ours records for this operation (for
    /// `get1024keys`, the first key's).
    fn recorded(name: &str) -> (&'static str, &'static str) {
        match name {
            "set" => ("SET", "SET user:42 ?"),
            "pipeline10" => (
                "PIPELINE",
                "SET user:0 ?; SET user:1 ?; SET user:2 ?; SET user:3 ?; SET user:4 ?; \
                 GET user:0; GET user:1; GET user:2; GET user:3; GET user:4",
            ),
            "get1024keys" => ("GET", "GET user:0"),
            _ => ("GET", "GET user:42"),
        }
    }

    fn new(name: &str) -> Option<Self> {
        Some(match name {
            "get" => Operation::Command(redis::cmd("GET").arg("user:42").clone()),
            "set" => {
                Operation::Command(redis::cmd("SET").arg("user:42").arg("Ada Lovelace").clone())
            }
            "pipeline10" => {
                let mut pipe = redis::pipe();
                for i in 0..5 {
                    pipe.cmd("SET").arg(format!("user:{i}")).arg("Ada Lovelace");
                }
                for i in 0..5 {
                    pipe.cmd("GET").arg(format!("user:{i}"));
                }
                Operation::Pipeline(pipe)
            }
            "get1024keys" => Operation::Commands(
                (0..1024)
                    .map(|i| redis::cmd("GET").arg(format!("user:{i}")).clone())
                    .collect(),
                std::sync::atomic::AtomicUsize::new(0),
            ),
            _ => return None,
        })
    }

    async fn run(&self, con: &mut impl ConnectionLike) {
        match self {
            Operation::Commands(cmds, next) => {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % cmds.len();
                let value: Value = cmds[i].query_async(con).await.expect("reply");
                std::hint::black_box(value);
            }
            Operation::Command(cmd) => {
                let value: Value = cmd.query_async(con).await.expect("reply");
                std::hint::black_box(value);
            }
            Operation::Pipeline(pipe) => {
                let value: Value = pipe.query_async(con).await.expect("replies");
                std::hint::black_box(value);
            }
        }
    }
}

/// A connection of one of the kinds measured.
#[derive(Clone)]
enum Connection {
    Bare(MultiplexedConnection),
    Floor(Floor<MultiplexedConnection>),
    Ours(otel_redis::TracedConnection<MultiplexedConnection>),
}

impl Connection {
    async fn open(kind: &str, url: &str, operation: &str) -> Option<Self> {
        let client = redis::Client::open(url).expect("REDIS_URL");
        let raw = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis-server");
        Some(match kind {
            "bare" => Connection::Bare(raw),
            "floor" => Connection::Floor(Floor {
                inner: raw,
                tracer: Arc::new(opentelemetry::global::tracer("floor")),
                attributes: None,
            }),
            "floor-attrs" => {
                let (operation, statement) = Operation::recorded(operation);
                Connection::Floor(Floor {
                    inner: raw,
                    tracer: Arc::new(opentelemetry::global::tracer("floor")),
                    attributes: Some(FixedAttributes {
                        operation,
                        address: Arc::<str>::from("127.0.0.1").into(),
                        port: 6379,
                        statement: statement.into(),
                    }),
                })
            }
            "ours" => Connection::Ours(
                otel_redis::OtelRedis::for_client(&client)
                    .metrics(false)
                    .wrap(raw),
            ),
            "ours-metrics" => {
                Connection::Ours(otel_redis::OtelRedis::for_client(&client).wrap(raw))
            }
            _ => return None,
        })
    }

    async fn run(&mut self, operation: &Operation) {
        match self {
            Connection::Bare(con) => operation.run(con).await,
            Connection::Floor(con) => operation.run(con).await,
            Connection::Ours(con) => operation.run(con).await,
        }
    }
}

fn split(variant: &str) -> Option<(&'static str, &'static str)> {
    let operation = OPERATIONS.iter().find(|o| variant.ends_with(*o))?;
    let kind = variant.strip_suffix(operation)?.strip_suffix('-')?;
    let kind = CONNECTIONS.iter().find(|c| **c == kind)?;
    Some((kind, operation))
}

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned())
}

/// Requests in flight at once on the one multiplexed connection in the pipelined mode.
const IN_FLIGHT: usize = 16;

/// What the throughput mode measures: each operation one at a time (a round trip each), and
/// [`IN_FLIGHT`] at once on the one connection (redis-rs pipelines them), so the client's own
/// work weighs more than the round trip.
const THROUGHPUT_OPERATIONS: [(&str, usize); 4] = [
    ("get", 1),
    ("set", 1),
    ("get", IN_FLIGHT),
    ("pipeline10", 1),
];

/// Operations per second of `con` doing `operation` for `millis`, `in_flight` at a time.
async fn rate(con: &Connection, operation: &Arc<Operation>, in_flight: usize, millis: u64) -> f64 {
    // Warm: the first requests of a slice pay for what the previous variant left behind.
    let mut warm = con.clone();
    for _ in 0..16 {
        warm.run(operation).await;
    }
    let started = Instant::now();
    let deadline = started + Duration::from_millis(millis);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let mut con = con.clone();
        let operation = operation.clone();
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                con.run(&operation).await;
                done += 1;
            }
            done
        });
    }
    let mut done = 0;
    while let Some(n) = tasks.join_next().await {
        done += n.expect("task");
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Interleaved rounds: in each round every connection kind runs each operation for `millis`,
/// the kinds in a rotating order (so drift in the machine's load favours none). Each round's
/// rates are divided by bare's rate of the same operation in the same round; the table shows
/// the median of those per-round ratios, their spread, and ours ÷ floor per round (median).
fn throughput(rounds: usize, millis: u64) {
    let (tracer_provider, meter_provider) = otel_bench::http::install_providers();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = url();
    // rates[operation][kind][round]
    let mut rates = vec![vec![Vec::new(); THROUGHPUT_KINDS]; THROUGHPUT_OPERATIONS.len()];
    runtime.block_on(async {
        let mut cons = Vec::new();
        for kind in &CONNECTIONS[..THROUGHPUT_KINDS] {
            cons.push(
                Connection::open(kind, &url, "get")
                    .await
                    .expect("connection"),
            );
        }
        for round in 0..rounds {
            for (o, (operation, in_flight)) in THROUGHPUT_OPERATIONS.iter().enumerate() {
                let operation = Arc::new(Operation::new(operation).expect("operation"));
                for k in 0..THROUGHPUT_KINDS {
                    let kind = (k + round) % THROUGHPUT_KINDS;
                    let r = rate(&cons[kind], &operation, *in_flight, millis).await;
                    rates[o][kind].push(r);
                }
            }
        }
    });
    println!(
        "| operation | in flight | bare ops/s | floor | floor + attributes | ours | ours + metrics | ours ÷ floor | floor + attributes ÷ floor |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (o, (operation, in_flight)) in THROUGHPUT_OPERATIONS.iter().enumerate() {
        let per_round = |kind: usize| -> Vec<f64> {
            (0..rounds)
                .map(|r| rates[o][kind][r] / rates[o][0][r])
                .collect()
        };
        let cell = |kind: usize| {
            let ratios = per_round(kind);
            let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{:.3} ({low:.2}–{high:.2})", median(&ratios))
        };
        let to_floor = |kind: usize| -> f64 {
            let ratios: Vec<f64> = (0..rounds)
                .map(|r| rates[o][kind][r] / rates[o][1][r])
                .collect();
            median(&ratios)
        };
        println!(
            "| {operation} | {in_flight} | {:.0} | {} | {} | {} | {} | {:.3} | {:.3} |",
            median(&rates[o][0]),
            cell(1),
            cell(4),
            cell(2),
            cell(3),
            to_floor(2),
            to_floor(4),
        );
    }
    println!(
        "\n{rounds} interleaved rounds of {millis} ms per cell; ratios to bare in the same round: median (min–max)."
    );
    let _ = tracer_provider.shutdown();
    let _ = meter_provider.shutdown();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("throughput") {
        let rounds = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(15);
        let millis = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
        throughput(rounds, millis);
        return ExitCode::SUCCESS;
    }
    otel_bench::driver_main(&VARIANTS, |variant, n| {
        let Some((kind, operation_name)) = split(variant) else {
            return false;
        };
        let (tracer_provider, meter_provider) = otel_bench::http::install_providers();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let operation = Operation::new(operation_name).expect("operation");
        runtime.block_on(async {
            let mut con = Connection::open(kind, &url(), operation_name)
                .await
                .expect("connection");
            for i in 0..n {
                con.run(&operation).await;
                if i % 128 == 127 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        let _ = tracer_provider.shutdown();
        let _ = meter_provider.shutdown();
        true
    })
}
