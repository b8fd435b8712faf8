//! What the instrumentation knows of each Redis command: its canonical name, and which of its
//! arguments a sanitized `db.query.text` may show.

/// Which arguments of a command a sanitized statement shows (the command name is always shown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Only the name, whatever follows: credentials (`AUTH`, `HELLO … AUTH`, `MIGRATE … AUTH`)
    /// and commands this table does not know.
    Bare,
    /// The first `shown` arguments (keys, hash fields, channels), then the rest as `rest` says.
    Args { shown: u8, rest: Rest },
    /// A sub-command (`CONFIG SET`, `ACL SETUSER`, `XGROUP CREATE`) shown when it looks like one,
    /// every later argument `?`: no argument of `CONFIG SET requirepass`, `ACL SETUSER` ever shows.
    Sub,
    /// `EVAL script numkeys key… arg…` (and `EVALSHA`, `FCALL`): the script or function `?`, the
    /// key count and the keys shown, the arguments `?`.
    Eval,
}

/// What a statement shows of the arguments after the leading shown ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rest {
    /// Every one `?` (values, members, scores, options).
    Mask,
    /// Every one shown (more keys, more hash fields, more channels).
    Show,
    /// Shown and `?` by turns (`MSET k ? k ?`, `HSET h f ? f ?`).
    Pairs,
}

/// A command the instrumentation knows.
#[derive(Debug)]
pub(crate) struct Command {
    /// The name as the server spells it, upper case.
    pub(crate) name: &'static str,
    /// Which arguments a sanitized statement shows.
    pub(crate) shape: Shape,
}

impl Command {
    /// The index of the command's first key among its arguments (the name is argument 0), for the
    /// key-pattern attribute.
    pub(crate) fn first_key_index(&self) -> Option<usize> {
        match self.shape {
            Shape::Args { shown, rest } if shown > 0 || rest != Rest::Mask => Some(1),
            Shape::Eval => Some(3),
            _ => None,
        }
    }
}

const fn args(shown: u8, rest: Rest) -> Shape {
    Shape::Args { shown, rest }
}

const K1: Shape = args(1, Rest::Mask);
const K2: Shape = args(2, Rest::Mask);
const KEYS: Shape = args(0, Rest::Show);
const KFIELDS: Shape = args(1, Rest::Show);
const KPAIRS: Shape = args(1, Rest::Pairs);
const PAIRS: Shape = args(0, Rest::Pairs);
const MASK: Shape = args(0, Rest::Mask);

macro_rules! commands {
    ($($name:literal => $shape:expr,)*) => {
        /// Every command the instrumentation knows, sorted by name (a test checks).
        pub(crate) static COMMANDS: &[Command] = &[$(Command { name: $name, shape: $shape },)*];
        /// The first eight bytes of each name in [`COMMANDS`], packed big-endian (names that
        /// share their first eight bytes are neighbours, the table being sorted).
        const PACKED: &[u64] = &[$(pack($name.as_bytes()),)*];
        /// The longest name in [`COMMANDS`]; anything longer is unknown without a look.
        const LONGEST: usize = longest(&[$($name,)*]);
    };
}

/// The length of the longest of `names`.
const fn longest(names: &[&str]) -> usize {
    let mut max = 0;
    let mut i = 0;
    while i < names.len() {
        if names[i].len() > max {
            max = names[i].len();
        }
        i += 1;
    }
    max
}

/// The first eight bytes of `name`, big-endian, zero-padded: a shorter name sorts first, as in
/// byte order.
const fn pack(name: &[u8]) -> u64 {
    let mut packed = 0u64;
    let mut i = 0;
    while i < 8 {
        packed <<= 8;
        if i < name.len() {
            packed |= name[i] as u64;
        }
        i += 1;
    }
    packed
}

commands! {
    "ACL" => Shape::Sub,
    "APPEND" => K1,
    "AUTH" => Shape::Bare,
    "BGREWRITEAOF" => MASK,
    "BGSAVE" => MASK,
    "BITCOUNT" => K1,
    "BITFIELD" => K1,
    "BITFIELD_RO" => K1,
    "BITOP" => args(1, Rest::Show),
    "BITPOS" => K1,
    "BLMOVE" => K2,
    "BLMPOP" => MASK,
    "BLPOP" => KEYS,
    "BRPOP" => KEYS,
    "BRPOPLPUSH" => K2,
    "BZMPOP" => MASK,
    "BZPOPMAX" => KEYS,
    "BZPOPMIN" => KEYS,
    "CLIENT" => Shape::Sub,
    "CLUSTER" => Shape::Sub,
    "COMMAND" => Shape::Sub,
    "CONFIG" => Shape::Sub,
    "COPY" => K2,
    "DBSIZE" => MASK,
    "DEBUG" => Shape::Sub,
    "DECR" => K1,
    "DECRBY" => K1,
    "DEL" => KEYS,
    "DISCARD" => MASK,
    "DUMP" => K1,
    "ECHO" => MASK,
    "EVAL" => Shape::Eval,
    "EVALSHA" => Shape::Eval,
    "EVALSHA_RO" => Shape::Eval,
    "EVAL_RO" => Shape::Eval,
    "EXEC" => MASK,
    "EXISTS" => KEYS,
    "EXPIRE" => K1,
    "EXPIREAT" => K1,
    "EXPIRETIME" => K1,
    "FAILOVER" => MASK,
    "FCALL" => Shape::Eval,
    "FCALL_RO" => Shape::Eval,
    "FLUSHALL" => MASK,
    "FLUSHDB" => MASK,
    "FUNCTION" => Shape::Sub,
    "GEOADD" => K1,
    "GEODIST" => K1,
    "GEOHASH" => K1,
    "GEOPOS" => K1,
    "GEORADIUS" => K1,
    "GEORADIUSBYMEMBER" => K1,
    "GEORADIUSBYMEMBER_RO" => K1,
    "GEORADIUS_RO" => K1,
    "GEOSEARCH" => K1,
    "GEOSEARCHSTORE" => K2,
    "GET" => K1,
    "GETBIT" => K1,
    "GETDEL" => K1,
    "GETEX" => K1,
    "GETRANGE" => K1,
    "GETSET" => K1,
    "HDEL" => KFIELDS,
    "HELLO" => Shape::Bare,
    "HEXISTS" => KFIELDS,
    "HGET" => KFIELDS,
    "HGETALL" => K1,
    "HINCRBY" => args(2, Rest::Mask),
    "HINCRBYFLOAT" => args(2, Rest::Mask),
    "HKEYS" => K1,
    "HLEN" => K1,
    "HMGET" => KFIELDS,
    "HMSET" => KPAIRS,
    "HRANDFIELD" => K1,
    "HSCAN" => K1,
    "HSET" => KPAIRS,
    "HSETNX" => KPAIRS,
    "HSTRLEN" => KFIELDS,
    "HVALS" => K1,
    "INCR" => K1,
    "INCRBY" => K1,
    "INCRBYFLOAT" => K1,
    "INFO" => MASK,
    "KEYS" => KEYS,
    "LASTSAVE" => MASK,
    "LATENCY" => Shape::Sub,
    "LCS" => K2,
    "LINDEX" => K1,
    "LINSERT" => K1,
    "LLEN" => K1,
    "LMOVE" => K2,
    "LMPOP" => MASK,
    "LPOP" => K1,
    "LPOS" => K1,
    "LPUSH" => K1,
    "LPUSHX" => K1,
    "LRANGE" => K1,
    "LREM" => K1,
    "LSET" => K1,
    "LTRIM" => K1,
    "MEMORY" => Shape::Sub,
    "MGET" => KEYS,
    "MIGRATE" => Shape::Bare,
    "MODULE" => Shape::Sub,
    "MONITOR" => MASK,
    "MOVE" => K1,
    "MSET" => PAIRS,
    "MSETNX" => PAIRS,
    "MULTI" => MASK,
    "OBJECT" => Shape::Sub,
    "PERSIST" => K1,
    "PEXPIRE" => K1,
    "PEXPIREAT" => K1,
    "PEXPIRETIME" => K1,
    "PFADD" => K1,
    "PFCOUNT" => KEYS,
    "PFMERGE" => KEYS,
    "PING" => MASK,
    "PSETEX" => K1,
    "PSUBSCRIBE" => KEYS,
    "PTTL" => K1,
    "PUBLISH" => K1,
    "PUBSUB" => Shape::Sub,
    "PUNSUBSCRIBE" => KEYS,
    "QUIT" => MASK,
    "RANDOMKEY" => MASK,
    "READONLY" => MASK,
    "READWRITE" => MASK,
    "RENAME" => K2,
    "RENAMENX" => K2,
    "REPLICAOF" => MASK,
    "RESET" => MASK,
    "RESTORE" => K1,
    "ROLE" => MASK,
    "RPOP" => K1,
    "RPOPLPUSH" => K2,
    "RPUSH" => K1,
    "RPUSHX" => K1,
    "SADD" => K1,
    "SAVE" => MASK,
    "SCAN" => MASK,
    "SCARD" => K1,
    "SCRIPT" => Shape::Sub,
    "SDIFF" => KEYS,
    "SDIFFSTORE" => KEYS,
    "SELECT" => MASK,
    "SET" => K1,
    "SETBIT" => K1,
    "SETEX" => K1,
    "SETNX" => K1,
    "SETRANGE" => K1,
    "SHUTDOWN" => MASK,
    "SINTER" => KEYS,
    "SINTERCARD" => MASK,
    "SINTERSTORE" => KEYS,
    "SISMEMBER" => K1,
    "SLAVEOF" => MASK,
    "SLOWLOG" => Shape::Sub,
    "SMEMBERS" => K1,
    "SMISMEMBER" => K1,
    "SMOVE" => K2,
    "SORT" => K1,
    "SORT_RO" => K1,
    "SPOP" => K1,
    "SPUBLISH" => K1,
    "SRANDMEMBER" => K1,
    "SREM" => K1,
    "SSCAN" => K1,
    "SSUBSCRIBE" => KEYS,
    "STRLEN" => K1,
    "SUBSCRIBE" => KEYS,
    "SUBSTR" => K1,
    "SUNION" => KEYS,
    "SUNIONSTORE" => KEYS,
    "SUNSUBSCRIBE" => KEYS,
    "SWAPDB" => MASK,
    "TIME" => MASK,
    "TOUCH" => KEYS,
    "TTL" => K1,
    "TYPE" => K1,
    "UNLINK" => KEYS,
    "UNSUBSCRIBE" => KEYS,
    "UNWATCH" => MASK,
    "WAIT" => MASK,
    "WATCH" => KEYS,
    "XACK" => K1,
    "XADD" => K1,
    "XAUTOCLAIM" => K1,
    "XCLAIM" => K1,
    "XDEL" => K1,
    "XGROUP" => Shape::Sub,
    "XINFO" => Shape::Sub,
    "XLEN" => K1,
    "XPENDING" => K1,
    "XRANGE" => K1,
    "XREAD" => MASK,
    "XREADGROUP" => MASK,
    "XREVRANGE" => K1,
    "XSETID" => K1,
    "XTRIM" => K1,
    "ZADD" => K1,
    "ZCARD" => K1,
    "ZCOUNT" => K1,
    "ZDIFF" => MASK,
    "ZDIFFSTORE" => K1,
    "ZINCRBY" => K1,
    "ZINTER" => MASK,
    "ZINTERCARD" => MASK,
    "ZINTERSTORE" => K1,
    "ZLEXCOUNT" => K1,
    "ZMPOP" => MASK,
    "ZMSCORE" => K1,
    "ZPOPMAX" => K1,
    "ZPOPMIN" => K1,
    "ZRANDMEMBER" => K1,
    "ZRANGE" => K1,
    "ZRANGEBYLEX" => K1,
    "ZRANGEBYSCORE" => K1,
    "ZRANGESTORE" => K2,
    "ZRANK" => K1,
    "ZREM" => K1,
    "ZREMRANGEBYLEX" => K1,
    "ZREMRANGEBYRANK" => K1,
    "ZREMRANGEBYSCORE" => K1,
    "ZREVRANGE" => K1,
    "ZREVRANGEBYLEX" => K1,
    "ZREVRANGEBYSCORE" => K1,
    "ZREVRANK" => K1,
    "ZSCAN" => K1,
    "ZSCORE" => K1,
    "ZUNION" => MASK,
    "ZUNIONSTORE" => K1,
}

/// Slots in [`SLOTS`]: a power of two, about twice the number of distinct packed heads.
const SLOT_BITS: u32 = 9;
const SLOT_MASK: usize = (1 << SLOT_BITS) - 1;
const EMPTY: u16 = u16::MAX;

// Every index fits a slot without meaning `EMPTY`, and the table stays at most half full, so a
// probe meets an empty slot soon.
const _: () = assert!(PACKED.len() < EMPTY as usize);
const _: () = assert!(PACKED.len() * 2 <= 1 << SLOT_BITS);

/// Where a packed head starts probing in [`SLOTS`] (Fibonacci hashing).
const fn slot(packed: u64) -> usize {
    (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOT_BITS)) as usize
}

/// An open-addressing table, made at compile time, from a packed head to the index in
/// [`COMMANDS`] of the first name with that head: a look-up is a hash and a probe or two rather
/// than a binary search over every name.
static SLOTS: [u16; 1 << SLOT_BITS] = {
    let mut slots = [EMPTY; 1 << SLOT_BITS];
    let mut i = 0;
    while i < PACKED.len() {
        if i == 0 || PACKED[i] != PACKED[i - 1] {
            let mut s = slot(PACKED[i]);
            while slots[s] != EMPTY {
                s = (s + 1) & SLOT_MASK;
            }
            slots[s] = i as u16;
        }
        i += 1;
    }
    slots
};

/// The command `name` names, whatever its case; `None` for a command the table does not know.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Command> {
    if name.is_empty() || name.len() > LONGEST {
        return None;
    }
    let (head, tail) = name.split_at(name.len().min(8));
    let key = upper_ascii(pack_head(head));
    let mut s = slot(key);
    loop {
        let first = usize::from(SLOTS[s]);
        if first == usize::from(EMPTY) {
            return None;
        }
        if PACKED[first] == key {
            // The names with this head, in turn (neighbours in the sorted table).
            let mut i = first;
            while i < COMMANDS.len() && PACKED[i] == key {
                let command = &COMMANDS[i];
                if command.name.len() == name.len()
                    && (tail.is_empty() || command.name.as_bytes()[8..].eq_ignore_ascii_case(tail))
                {
                    return Some(command);
                }
                i += 1;
            }
            return None;
        }
        s = (s + 1) & SLOT_MASK;
    }
}

/// Up to eight bytes packed big-endian, zero-padded (as [`pack`], for a name's head at run time).
#[inline]
fn pack_head(head: &[u8]) -> u64 {
    match <[u8; 8]>::try_from(head) {
        Ok(bytes) => u64::from_be_bytes(bytes),
        Err(_) => {
            let mut packed = 0u64;
            for &b in head {
                packed = (packed << 8) | u64::from(b);
            }
            // Eight empty bytes shift the whole word out (and nothing was packed).
            let empty_bytes = u32::try_from(8usize.saturating_sub(head.len())).unwrap_or(8);
            packed.checked_shl(8 * empty_bytes).unwrap_or(0)
        }
    }
}

/// Every ASCII lower-case letter among the eight packed bytes made upper case, all at once;
/// other bytes (zero padding, non-ASCII) unchanged.
#[inline]
fn upper_ascii(packed: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = packed & !HIGH;
    // Per byte, the high bit says: at least `a`; above `z` (no carry crosses bytes: each is < 0x80
    // and adds less than 0x80).
    let from_a = low7 + ONES * u64::from(0x80 - b'a');
    let past_z = low7 + ONES * u64::from(0x80 - b'z' - 1);
    let lower = from_a & !past_z & !packed & HIGH;
    packed ^ (lower >> 2)
}

/// Whether `arg` reads as a sub-command or keyword (`SET`, `SETUSER`, `CREATE`), safe to show.
pub(crate) fn is_keyword(arg: &[u8]) -> bool {
    !arg.is_empty()
        && arg.len() <= 32
        && arg
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_' || *b == b'|')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_names_fit() {
        for pair in COMMANDS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} >= {}",
                pair[0].name,
                pair[1].name
            );
        }
        assert_eq!(COMMANDS.iter().map(|c| c.name.len()).max(), Some(LONGEST));
        assert_eq!(PACKED.len(), COMMANDS.len());
        for pair in PACKED.windows(2) {
            assert!(pair[0] <= pair[1]);
        }
        for command in COMMANDS {
            assert_eq!(
                lookup(command.name.as_bytes()).map(|c| c.name),
                Some(command.name)
            );
        }
    }

    #[test]
    fn lookup_ignores_case_and_rejects_unknown_names() {
        assert_eq!(lookup(b"get").map(|c| c.name), Some("GET"));
        assert_eq!(lookup(b"HsEt").map(|c| c.name), Some("HSET"));
        assert!(lookup(b"GETX").is_none());
        assert!(lookup(b"GEORADIUSBYMEMBER_RO").is_some());
        assert!(lookup(b"GEORADIUSBYMEMBER_R").is_none());
        assert!(lookup(b"GEORADIU").is_none());
        assert!(lookup(b"").is_none());
        assert!(lookup(&[0xff; 64]).is_none());
        assert!(lookup("gét".as_bytes()).is_none());
        assert!(lookup(b"GET\0").is_none());
        assert!(lookup(b"georadiusbymember_ro").is_some());
    }

    #[test]
    fn packed_heads_upper_case_only_ascii_letters() {
        for name in [
            &b"get"[..],
            b"GeoRadiu",
            b"a",
            b"z{`@[_09",
            b"\xe0\xfa\x7b",
            b"",
        ] {
            let expected: Vec<u8> = name.iter().map(u8::to_ascii_uppercase).collect();
            assert_eq!(upper_ascii(pack_head(name)), pack(&expected), "{name:?}");
        }
        for b in 0..=255u8 {
            assert_eq!(
                upper_ascii(pack_head(&[b])),
                pack(&[b.to_ascii_uppercase()])
            );
        }
    }

    #[test]
    fn credential_commands_show_nothing() {
        for name in ["AUTH", "HELLO", "MIGRATE"] {
            assert_eq!(lookup(name.as_bytes()).map(|c| c.shape), Some(Shape::Bare));
        }
        for name in ["ACL", "CONFIG"] {
            assert_eq!(lookup(name.as_bytes()).map(|c| c.shape), Some(Shape::Sub));
        }
    }

    /// The table searched one name at a time, ignoring ASCII case: what [`lookup`] must answer.
    fn reference(name: &[u8]) -> Option<&'static str> {
        COMMANDS
            .iter()
            .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
            .map(|c| c.name)
    }

    proptest::proptest! {
        #[test]
        fn lookup_agrees_with_a_plain_search(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
            index in 0..COMMANDS.len(),
            flips in proptest::collection::vec(proptest::bool::ANY, 24),
        ) {
            proptest::prop_assert_eq!(lookup(&bytes).map(|c| c.name), reference(&bytes));
            // A known name in any mix of cases, and with a byte changed or cut.
            let mut name: Vec<u8> = COMMANDS[index].name.bytes().zip(&flips)
                .map(|(b, flip)| if *flip { b.to_ascii_lowercase() } else { b })
                .collect();
            proptest::prop_assert_eq!(lookup(&name).map(|c| c.name), Some(COMMANDS[index].name));
            if let Some(b) = bytes.first() {
                name[0] = *b;
                proptest::prop_assert_eq!(lookup(&name).map(|c| c.name), reference(&name));
            }
            name.pop();
            proptest::prop_assert_eq!(lookup(&name).map(|c| c.name), reference(&name));
        }
    }
}
