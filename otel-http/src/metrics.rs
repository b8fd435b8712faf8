//! The HTTP metric instruments, named and bucketed as the semantic conventions say.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, MeterProvider, UpDownCounter};
use opentelemetry_semantic_conventions::metric as names;

use crate::semconv::{Side, key};

/// The duration histogram's advisory buckets, in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The instruments one side records, created once per layer.
pub(crate) struct Instruments {
    pub(crate) duration: Histogram<f64>,
    pub(crate) active: Active,
    pub(crate) request_body_size: Histogram<u64>,
    pub(crate) response_body_size: Histogram<u64>,
}

/// `http.{server,client}.active_requests`.
pub(crate) enum Active {
    /// Clients (their attributes, `server.address`, are open-ended), and servers on a provider
    /// given to the layer: an up-down counter.
    Counter(UpDownCounter<i64>),
    /// Servers on the global provider: the attributes are a method and a scheme, a fixed set,
    /// so the count lives in atomics and an observable up-down counter reports it at collection.
    /// Two synchronous measurements per request (each a hash of the attribute set in the SDK,
    /// ~1,000 instructions) become two atomic additions.
    Observed(Arc<ActiveTable>),
}

/// Server requests in flight by `http.request.method` and `url.scheme`, for one layer.
pub(crate) struct ActiveTable {
    /// The layer's known methods, `_OTHER` last: the rows.
    methods: Arc<[&'static str]>,
    counts: Box<[[AtomicI64; 2]]>,
    /// Whether a cell ever counted a request: only those are reported, as a synchronous counter
    /// would.
    used: Box<[[AtomicBool; 2]]>,
}

/// The tables of every server layer on one global meter provider, and the one callback that
/// reports their sum. One callback per provider, not per layer: the SDK keeps callbacks for the
/// provider's life (a layer built per connection must not add one each time), and an
/// observation replaces, not adds to, an earlier one with the same attributes.
struct Group {
    /// Held weakly: the provider owns the callback, which owns the group.
    provider: Weak<dyn MeterProvider + Send + Sync>,
    tables: Mutex<Vec<Weak<ActiveTable>>>,
}

static GROUPS: Mutex<Vec<Arc<Group>>> = Mutex::new(Vec::new());

/// The `url.scheme` values a server reports, indexed as [`ActiveTable`] cells are.
const SCHEMES: [&str; 2] = ["http", "https"];

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ActiveTable {
    /// The cell of a request: its method's index in the layer's known methods, its scheme.
    pub(crate) fn cell(method: usize, scheme: &str) -> (usize, usize) {
        (method, usize::from(scheme == "https"))
    }

    pub(crate) fn add(&self, (method, scheme): (usize, usize), delta: i64) {
        self.counts[method][scheme].fetch_add(delta, Ordering::Relaxed);
        if !self.used[method][scheme].load(Ordering::Relaxed) {
            self.used[method][scheme].store(true, Ordering::Relaxed);
        }
    }

    /// A table for a new layer on `provider` (the global one), and the provider's callback if it
    /// has none yet.
    fn observed(
        meter: &Meter,
        name: &'static str,
        provider: &Arc<dyn MeterProvider + Send + Sync>,
        methods: &[&'static str],
    ) -> Active {
        let table = Arc::new(ActiveTable {
            methods: methods.into(),
            counts: methods.iter().map(|_| Default::default()).collect(),
            used: methods.iter().map(|_| Default::default()).collect(),
        });
        let provider = Arc::downgrade(provider);
        let (group, new) = {
            let mut groups = lock(&GROUPS);
            groups.retain(|g| g.provider.strong_count() > 0);
            match groups.iter().find(|g| Weak::ptr_eq(&g.provider, &provider)) {
                Some(group) => (group.clone(), false),
                None => {
                    let group = Arc::new(Group {
                        provider,
                        tables: Mutex::new(Vec::new()),
                    });
                    groups.push(group.clone());
                    (group, true)
                }
            }
        };
        {
            let mut tables = lock(&group.tables);
            tables.retain(|t| t.strong_count() > 0);
            tables.push(Arc::downgrade(&table));
        }
        if new {
            // Registered with no lock of ours held: the SDK calls back under its own.
            meter
                .i64_observable_up_down_counter(name)
                .with_unit("{request}")
                .with_description("Number of active HTTP requests.")
                .with_callback(move |observer| {
                    // Summed by (method, scheme) across layers, whose known methods may differ.
                    let mut sums: Vec<(&'static str, usize, i64)> = Vec::new();
                    for table in lock(&group.tables).iter().filter_map(Weak::upgrade) {
                        for (m, &method) in table.methods.iter().enumerate() {
                            for s in 0..SCHEMES.len() {
                                if !table.used[m][s].load(Ordering::Relaxed) {
                                    continue;
                                }
                                let count = table.counts[m][s].load(Ordering::Relaxed);
                                match sums.iter_mut().find(|(n, c, _)| *n == method && *c == s) {
                                    Some(sum) => sum.2 += count,
                                    None => sums.push((method, s, count)),
                                }
                            }
                        }
                    }
                    for (method, s, count) in sums {
                        observer.observe(
                            count,
                            &[
                                KeyValue::new(key::METHOD, method),
                                KeyValue::new(key::URL_SCHEME, SCHEMES[s]),
                            ],
                        );
                    }
                })
                .build();
        }
        Active::Observed(table)
    }
}

impl Instruments {
    /// The instruments of `side` on `meter`; a server's active requests in atomics when `global`
    /// (the global meter provider, which `meter` came from) is given.
    pub(crate) fn new(
        meter: &Meter,
        side: Side,
        global: Option<Arc<dyn MeterProvider + Send + Sync>>,
        methods: &[&'static str],
    ) -> Self {
        let (duration, active, request_size, response_size) = match side {
            Side::Server => (
                names::HTTP_SERVER_REQUEST_DURATION,
                names::HTTP_SERVER_ACTIVE_REQUESTS,
                names::HTTP_SERVER_REQUEST_BODY_SIZE,
                names::HTTP_SERVER_RESPONSE_BODY_SIZE,
            ),
            Side::Client => (
                names::HTTP_CLIENT_REQUEST_DURATION,
                names::HTTP_CLIENT_ACTIVE_REQUESTS,
                names::HTTP_CLIENT_REQUEST_BODY_SIZE,
                names::HTTP_CLIENT_RESPONSE_BODY_SIZE,
            ),
        };
        Instruments {
            duration: meter
                .f64_histogram(duration)
                .with_unit("s")
                .with_description("Duration of HTTP requests.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            active: match (side, global) {
                (Side::Server, Some(global)) => {
                    ActiveTable::observed(meter, active, &global, methods)
                }
                _ => Active::Counter(
                    meter
                        .i64_up_down_counter(active)
                        .with_unit("{request}")
                        .with_description("Number of active HTTP requests.")
                        .build(),
                ),
            },
            request_body_size: meter
                .u64_histogram(request_size)
                .with_unit("By")
                .with_description("Size of HTTP request bodies.")
                .build(),
            response_body_size: meter
                .u64_histogram(response_size)
                .with_unit("By")
                .with_description("Size of HTTP response bodies.")
                .build(),
        }
    }
}

/// The attributes every metric of one request shares, gathered as the request goes.
#[derive(Clone, Debug)]
pub(crate) struct MetricAttributes {
    /// Those known when the request starts: method, scheme, route or server address and port,
    /// protocol version; the status code and `error.type` join them at the end.
    pub(crate) request: Vec<KeyValue>,
    /// Clients: how many of `request` the active-requests counter takes (first).
    pub(crate) active_len: usize,
    /// Servers: the request's cell in the [`ActiveTable`].
    pub(crate) active_cell: (usize, usize),
    /// When the request started, for the duration.
    pub(crate) started: std::time::Instant,
    /// The request's `Content-Length`, if it said.
    pub(crate) request_body_size: Option<u64>,
}
