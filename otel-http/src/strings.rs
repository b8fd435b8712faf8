//! Attribute strings and span names that repeat from request to request (route templates, hosts,
//! user agents, `GET /users/{id}`), reused instead of allocated for every request.
//!
//! Why: a span's strings are allocated on the thread that handles the request and freed on the
//! batch span processor's thread when the span is exported. Besides the allocation itself, frees
//! on another thread leave the allocator's per-thread cache of the request thread empty, so its
//! next small allocations take the slow path too. Measured with callgrind, each such string costs
//! a few hundred instructions per request; a hit here costs a hash, a comparison and a reference
//! count.
//!
//! Two caches, both per thread (4-way set-associative, 256 entries: no locks on a hit) and both
//! bounded:
//! - [`named`]: span names are interned as `&'static str` (a span name must be
//!   `Cow<'static, str>`), at most [`MAX_INTERNED_NAMES`] of at most [`MAX_INTERNED_LEN`] bytes
//!   per process, in a read-mostly set that a thread's misses consult; past that, names are
//!   allocated per request as before.
//! - [`shared_value`]: values up to [`MAX_SHARED_LEN`] bytes are kept as `Arc<str>`; a hit
//!   clones the `Arc`, a miss replaces an entry of its set.
//!
//! Shared by this crate's and `otel-grpc`'s exchanges; not meant as a general-purpose API.
//!
//! Hostile input (a different `User-Agent` per request) only makes every lookup a miss: the value
//! is then allocated, as it would be without the cache.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use opentelemetry::StringValue;

/// The most span names interned (kept for the life of the process) per process.
pub const MAX_INTERNED_NAMES: usize = 4096;

/// The longest span name interned; longer ones are allocated per request.
pub const MAX_INTERNED_LEN: usize = 256;

/// The longest value [`shared_value`] keeps; longer ones are allocated per request.
pub const MAX_SHARED_LEN: usize = 256;

/// Sets per thread in each table (a power of two), and entries per set: 256 entries, so a
/// service with a few hundred routes, methods or hosts still hits.
const SETS: usize = 64;
const WAYS: usize = 4;

/// A set index from a hash over the whole string, eight bytes at a time (FxHash's mixing):
/// names that share a long prefix and suffix (`/api/v1/{a}/items`, `/api/v1/{b}/items`) still
/// spread. Every hit is confirmed by comparing the whole string.
fn set_of(bytes: &[u8]) -> usize {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    let mut hash = bytes.len() as u64;
    for chunk in &mut chunks {
        hash = mix(
            hash,
            u64::from_le_bytes(chunk.try_into().unwrap_or_default()),
        );
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        hash = mix(hash, tail.iter().fold(0, |w, &b| (w << 8) | u64::from(b)));
    }
    (hash >> 58) as usize % SETS
}

/// A per-thread, set-associative table; a miss replaces the set's entries in turn.
struct Table<T> {
    sets: [[Option<T>; WAYS]; SETS],
    next: [u8; SETS],
}

impl<T> Table<T> {
    const fn new() -> Self {
        Table {
            sets: [const { [const { None }; WAYS] }; SETS],
            next: [0; SETS],
        }
    }

    fn find(&self, set: usize, is: impl Fn(&T) -> bool) -> Option<&T> {
        self.sets[set].iter().flatten().find(|entry| is(entry))
    }

    fn insert(&mut self, set: usize, entry: T) {
        let way = usize::from(self.next[set]) % WAYS;
        self.next[set] = self.next[set].wrapping_add(1);
        self.sets[set][way] = Some(entry);
    }
}

/// Interns `name` for the life of the process; `None` for a name over [`MAX_INTERNED_LEN`]
/// bytes or once [`MAX_INTERNED_NAMES`] are interned. Read-mostly: a thread's table misses
/// take the read lock, only a new name the write lock.
fn intern(name: &str) -> Option<&'static str> {
    static NAMES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    // Set once the interner is full: from then on a miss takes no lock at all.
    static FULL: AtomicBool = AtomicBool::new(false);
    if name.len() > MAX_INTERNED_LEN || FULL.load(Ordering::Relaxed) {
        return None;
    }
    let names = NAMES.get_or_init(Default::default);
    if let Some(interned) = names
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(name)
    {
        return Some(interned);
    }
    let mut names = names.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(interned) = names.get(name) {
        return Some(interned);
    }
    if names.len() >= MAX_INTERNED_NAMES {
        FULL.store(true, Ordering::Relaxed);
        return None;
    }
    let interned: &'static str = Box::leak(Box::from(name));
    names.insert(interned);
    Some(interned)
}

/// A name and the value it was made from, as [`named`] returns them.
struct Named {
    prefix: &'static str,
    value: Arc<str>,
    name: &'static str,
}

thread_local! {
    static NAMED: RefCell<Table<Named>> = const { RefCell::new(Table::new()) };
    static VALUES: RefCell<Table<Arc<str>>> = const { RefCell::new(Table::new()) };
}

/// A span name made of a fixed `prefix` and a `value` (`GET` and `/users/{id}` make
/// `GET /users/{id}`; an empty prefix makes the name `value` itself), interned, and `value` as
/// a shared attribute value.
///
/// Meant for names made from a bounded set of values, such as route templates: every distinct
/// name is kept for the life of the process, up to [`MAX_INTERNED_NAMES`]; past that, names are
/// allocated per call.
pub fn named(prefix: &'static str, value: &str) -> (Cow<'static, str>, StringValue) {
    named_with(prefix, value, true)
}

/// [`named`] for values a peer chooses (a gRPC method path, say): a name interned before is
/// reused, but a new one is not interned, so that a peer cannot use up the interned names.
/// Call [`intern_named`] once the value has proved to be one of the bounded set (the call
/// succeeded).
pub fn lookup_named(prefix: &'static str, value: &str) -> (Cow<'static, str>, StringValue) {
    named_with(prefix, value, false)
}

/// Interns the name [`named`] would make, for later [`lookup_named`] calls on this thread.
pub fn intern_named(prefix: &'static str, value: &str) {
    named_with(prefix, value, true);
}

fn named_with(prefix: &'static str, value: &str, intern: bool) -> (Cow<'static, str>, StringValue) {
    let set = set_of(value.as_bytes());
    // `try_with`: a request may end while its thread is being torn down.
    let hit = NAMED
        .try_with(|named| {
            named
                .borrow()
                .find(set, |n| n.prefix == prefix && *n.value == *value)
                .map(|n| (Cow::Borrowed(n.name), StringValue::from(n.value.clone())))
        })
        .ok()
        .flatten();
    if let Some(hit) = hit {
        return hit;
    }
    let name = if prefix.is_empty() {
        value.to_owned()
    } else {
        let mut name = String::with_capacity(prefix.len() + 1 + value.len());
        name.push_str(prefix);
        name.push(' ');
        name.push_str(value);
        name
    };
    let shared: Arc<str> = Arc::from(value);
    match intern.then(|| self::intern(&name)).flatten() {
        Some(name) => {
            let _ = NAMED.try_with(|named| {
                named.borrow_mut().insert(
                    set,
                    Named {
                        prefix,
                        value: shared.clone(),
                        name,
                    },
                )
            });
            (Cow::Borrowed(name), StringValue::from(shared))
        }
        None => (Cow::Owned(name), StringValue::from(shared)),
    }
}

/// `ip` as a [`StringValue`], formatted without a temporary `String`: one allocation that the
/// attributes carrying it (`client.address`, `network.peer.address`) share. Not cached: the
/// address is the caller's.
pub fn shared_ip(ip: std::net::IpAddr) -> StringValue {
    use std::io::Write as _;
    // The longest IPv6 text form is 45 bytes.
    let mut buf = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{ip}").is_err() {
        return StringValue::from(ip.to_string());
    }
    let len = cursor.position() as usize;
    match std::str::from_utf8(&buf[..len]) {
        Ok(text) => StringValue::from(Arc::<str>::from(text)),
        Err(_) => StringValue::from(ip.to_string()),
    }
}

/// `value` as a [`StringValue`], sharing one allocation with the previous requests on this
/// thread that had the same value. For values the application chooses (route templates, the
/// hosts a client calls), never for those a caller chooses (`User-Agent`, a server's `Host`):
/// those would only evict the rest. Values over [`MAX_SHARED_LEN`] bytes are copied.
pub fn shared_value(value: &str) -> StringValue {
    if value.len() > MAX_SHARED_LEN {
        return StringValue::from(value.to_owned());
    }
    let set = set_of(value.as_bytes());
    VALUES
        .try_with(|values| {
            let mut values = values.borrow_mut();
            if let Some(shared) = values.find(set, |shared| **shared == *value) {
                return StringValue::from(shared.clone());
            }
            let shared: Arc<str> = Arc::from(value);
            values.insert(set, shared.clone());
            StringValue::from(shared)
        })
        .unwrap_or_else(|_| StringValue::from(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_interned_and_exact() {
        let (a, route) = named("GET", "/users/{id}");
        let (b, _) = named("GET", "/users/{id}");
        assert_eq!(a, "GET /users/{id}");
        assert_eq!(route.as_str(), "/users/{id}");
        assert!(matches!((&a, &b), (Cow::Borrowed(x), Cow::Borrowed(y)) if std::ptr::eq(*x, *y)));
        assert_eq!(named("POST", "/users/{id}").0, "POST /users/{id}");
        assert_eq!(named("", "pkg.Svc/Method").0, "pkg.Svc/Method");
        assert_eq!(named("GET", "").0, "GET ");
        for i in 0..200 {
            let route = format!("/r/{i}");
            assert_eq!(named("PUT", &route).0, format!("PUT {route}"));
        }
    }

    #[test]
    fn peer_chosen_names_are_interned_only_when_asked() {
        let (name, value) = lookup_named("", "pkg.Svc/NotYet");
        assert!(matches!(name, Cow::Owned(_)));
        assert_eq!(
            (name.as_ref(), value.as_str()),
            ("pkg.Svc/NotYet", "pkg.Svc/NotYet")
        );
        assert!(matches!(
            lookup_named("", "pkg.Svc/NotYet").0,
            Cow::Owned(_)
        ));
        intern_named("", "pkg.Svc/NotYet");
        assert!(matches!(
            lookup_named("", "pkg.Svc/NotYet").0,
            Cow::Borrowed("pkg.Svc/NotYet")
        ));
    }

    #[test]
    fn ips_are_formatted_in_place() {
        let v6: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(shared_ip(v6).as_str(), "2001:db8::1");
        let v4: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(shared_ip(v4).as_str(), "127.0.0.1");
    }

    #[test]
    fn values_are_shared_and_exact() {
        let a = shared_value("api.example.com");
        let b = shared_value("api.example.com");
        assert_eq!(a.as_str(), "api.example.com");
        assert_eq!(b.as_str(), "api.example.com");
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        for i in 0..1000 {
            let v = format!("agent/{i}");
            assert_eq!(shared_value(&v).as_str(), v);
        }
        let long = "x".repeat(MAX_SHARED_LEN + 1);
        assert_eq!(shared_value(&long).as_str(), long);
    }

    #[test]
    fn usable_while_a_thread_is_torn_down() {
        struct EndsARequest;
        impl Drop for EndsARequest {
            fn drop(&mut self) {
                assert_eq!(shared_value("late").as_str(), "late");
                assert_eq!(named("GET", "/late").0, "GET /late");
            }
        }
        thread_local! { static GUARD: EndsARequest = const { EndsARequest }; }
        std::thread::spawn(|| {
            // The guard first, our caches after: destructors run in reverse order, so the
            // guard's runs once the caches are gone.
            GUARD.with(|_| {});
            let _ = (shared_value("early"), named("GET", "/early"));
        })
        .join()
        .expect("no panic in a thread-local destructor");
    }

    #[test]
    fn sets_spread() {
        let used: HashSet<usize> = (0..256)
            .map(|i| set_of(format!("/api/v1/items/{i}").as_bytes()))
            .collect();
        assert!(used.len() > SETS / 2, "{used:?}");
        assert!(set_of(b"") < SETS && set_of(b"a") < SETS);
    }

    proptest::proptest! {
        /// Whatever collides in the per-thread tables, every answer is exact.
        #[test]
        fn answers_are_exact_under_any_sequence(
            values in proptest::collection::vec("[a-z/{}]{0,12}|.{0,300}", 1..200),
        ) {
            for (n, value) in values.iter().enumerate() {
                let shared = shared_value(value);
                proptest::prop_assert_eq!(shared.as_str(), value.as_str());
                let prefix = ["GET", "POST", ""][n % 3];
                let (name, shared) = if n % 2 == 0 {
                    named(prefix, value)
                } else {
                    lookup_named(prefix, value)
                };
                let expected = if prefix.is_empty() {
                    value.clone()
                } else {
                    format!("{prefix} {value}")
                };
                proptest::prop_assert_eq!(name.as_ref(), expected.as_str());
                proptest::prop_assert_eq!(shared.as_str(), value.as_str());
            }
        }
    }
}
