use std::collections::HashMap;

use opentelemetry::KeyValue;

use opentelemetry::propagation::TextMapPropagator;

use super::*;

fn extract(value: &str) -> Baggage {
    let carrier = HashMap::from([(BAGGAGE.to_string(), value.to_string())]);
    let cx = BaggagePropagator::new().extract(&carrier);
    cx.baggage()
        .iter()
        .map(|(k, (v, m))| (k.clone(), (v.clone(), m.clone())))
        .collect()
}

fn get(baggage: &Baggage, key: &str) -> Option<String> {
    baggage.get(key).map(|v| v.as_str().to_owned())
}

fn inject(entries: impl IntoIterator<Item = KeyValue>) -> Option<String> {
    let cx = Context::new().with_baggage(entries.into_iter().collect::<Baggage>());
    let mut out = HashMap::new();
    BaggagePropagator::new().inject_context(&cx, &mut out);
    out.remove(BAGGAGE)
}

#[test]
fn decodes_percent_encoding() {
    let b = extract("userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false");
    assert_eq!(get(&b, "userId").as_deref(), Some("Amélie"));
    assert_eq!(get(&b, "serverNode").as_deref(), Some("DF 28"));
    assert_eq!(get(&b, "isProduction").as_deref(), Some("false"));
}

#[test]
fn lowercase_escapes_decode_too() {
    assert_eq!(get(&extract("k=%c3%a9"), "k").as_deref(), Some("é"));
}

#[test]
fn invalid_utf8_becomes_the_replacement_character() {
    assert_eq!(
        get(&extract("k=aa%ffcc"), "k").as_deref(),
        Some("aa\u{FFFD}cc")
    );
}

#[test]
fn a_percent_that_starts_no_escape_is_kept() {
    assert_eq!(get(&extract("k=100%"), "k").as_deref(), Some("100%"));
    assert_eq!(get(&extract("k=%zz"), "k").as_deref(), Some("%zz"));
}

#[test]
fn values_may_hold_equals_and_plus() {
    let b = extract("expr=a=b=c,sum=1+1");
    assert_eq!(get(&b, "expr").as_deref(), Some("a=b=c"));
    assert_eq!(get(&b, "sum").as_deref(), Some("1+1"), "+ is not a space");
}

#[test]
fn decoded_whitespace_inside_a_value_is_kept() {
    assert_eq!(
        get(&extract("k=%20a%20b%20"), "k").as_deref(),
        Some(" a b ")
    );
}

#[test]
fn optional_whitespace_is_trimmed() {
    let b = extract(" \tk1 \t= \tv1 \t, k2=v2\t;\tp1 ; p2 = x ");
    assert_eq!(get(&b, "k1").as_deref(), Some("v1"));
    assert_eq!(get(&b, "k2").as_deref(), Some("v2"));
    assert_eq!(b.get_with_metadata("k2").unwrap().1.as_str(), "p1 ; p2 = x");
}

#[test]
fn empty_values_are_valid() {
    assert_eq!(get(&extract("k="), "k").as_deref(), Some(""));
}

#[test]
fn properties_are_kept() {
    let b = extract("k=v;prop1;prop2=val2");
    assert_eq!(
        b.get_with_metadata("k").unwrap().1.as_str(),
        "prop1;prop2=val2"
    );
}

#[test]
fn an_invalid_member_is_dropped_alone() {
    let cases = [
        "bad key=1",
        "bad\"key=1",
        "=1",
        "novalue",
        "k=a b",
        "k=a\\b",
        "k=\"quoted\"",
        "k=v;bad prop",
        "k=v;",
        "k=v;=x",
        "k=caf\u{e9}",
    ];
    for bad in cases {
        let b = extract(&format!("a=1,{bad},z=2"));
        assert_eq!(b.len(), 2, "{bad:?}");
        assert_eq!(get(&b, "a").as_deref(), Some("1"));
        assert_eq!(get(&b, "z").as_deref(), Some("2"));
    }
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    assert_eq!(get(&extract("k=1,k=2"), "k").as_deref(), Some("2"));
}

#[test]
fn repeated_headers_are_one_list() {
    let mut headers = http::HeaderMap::new();
    headers.append("baggage", "a=1".parse().unwrap());
    headers.append("baggage", "b=2,c=3".parse().unwrap());
    let cx = BaggagePropagator::new().extract(&crate::HeaderExtractor(&headers));
    assert_eq!(cx.baggage().len(), 3);
}

#[test]
fn sixty_four_members_of_8192_bytes_are_propagated() {
    // 64 members, 8192 bytes in all with the commas: exactly the spec's floor.
    let member_len = (MAX_BYTES - 63) / 64;
    let mut members: Vec<String> = (0..64)
        .map(|i| {
            let key = format!("k{i:02}");
            format!("{key}={}", "v".repeat(member_len - key.len() - 1))
        })
        .collect();
    let extra = MAX_BYTES - 63 - members.iter().map(String::len).sum::<usize>();
    members[0].push_str(&"v".repeat(extra));
    let header = members.join(",");
    assert_eq!(header.len(), MAX_BYTES);
    let b = extract(&header);
    assert_eq!(b.len(), 64);

    let cx = Context::new().with_baggage(b);
    let mut out = HashMap::new();
    BaggagePropagator::new().inject_context(&cx, &mut out);
    assert_eq!(out[BAGGAGE].len(), MAX_BYTES, "all of it goes out again");
}

#[test]
fn members_beyond_the_limits_are_dropped_whole() {
    let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
    let b = extract(&many.join(","));
    assert_eq!(b.len(), MAX_MEMBERS);
    assert!(get(&b, "k0").is_some() && get(&b, "k63").is_some() && get(&b, "k64").is_none());

    let big = format!("small=1,big={},after=2", "x".repeat(MAX_BYTES));
    let b = extract(&big);
    assert_eq!(get(&b, "small").as_deref(), Some("1"));
    assert_eq!(get(&b, "big"), None);
    assert_eq!(
        get(&b, "after").as_deref(),
        Some("2"),
        "a member that fits is still taken"
    );
}

#[test]
fn hostile_input_is_bounded() {
    let header = format!("{}k=v", ",".repeat(200_000));
    assert_eq!(get(&extract(&header), "k").as_deref(), Some("v"));
    let header = "k=v;".repeat(50_000);
    assert!(extract(&header).is_empty());
}

#[test]
fn injects_percent_encoded_values() {
    assert_eq!(
        inject([KeyValue::new("userId", "Amélie")]).unwrap(),
        "userId=Am%C3%A9lie"
    );
    assert_eq!(
        inject([KeyValue::new("k", "100% a,b;c\\d\"e")]).unwrap(),
        "k=100%25%20a%2Cb%3Bc%5Cd%22e"
    );
    assert_eq!(
        inject([KeyValue::new("k", "a=b/c:d")]).unwrap(),
        "k=a=b/c:d",
        "baggage-octets are not encoded"
    );
}

#[test]
fn plus_is_sent_encoded() {
    // Legal unencoded, but Python's SDK decodes `+` as a space.
    assert_eq!(inject([KeyValue::new("k", "1+1")]).unwrap(), "k=1%2B1");
    let mut out = String::new();
    percent_encode_into("a+b c", &mut out);
    assert_eq!(out, "a%2Bb%20c");
}

#[test]
fn an_encoded_plus_passes_through_a_hop_encoded() {
    for received in ["sum=1%2B1", "sum=1+1"] {
        assert_eq!(
            reinject(&[received]),
            "sum=1%2B1",
            "{received}: what a Node client sends, or a literal plus"
        );
    }
}

/// Extracts `values` as `baggage` headers and injects the context again.
fn reinject(values: &[&str]) -> String {
    reinject_cx(&extract_cx(values))
}

fn extract_cx(values: &[&str]) -> Context {
    let mut headers = http::HeaderMap::new();
    for value in values {
        headers.append("baggage", value.parse().unwrap());
    }
    BaggagePropagator::new().extract_from(&Context::new(), &headers)
}

fn reinject_cx(cx: &Context) -> String {
    let mut out = http::HeaderMap::new();
    BaggagePropagator::new().inject_into(cx, &mut out);
    out.get(BAGGAGE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[test]
fn members_keep_the_order_received() {
    let members: Vec<String> = (0..40).rev().map(|i| format!("k{i}={i}")).collect();
    let header = members.join(",");
    assert_eq!(reinject(&[&header]), header);
    assert_eq!(reinject(&["z=1;p", "a=2,m=3"]), "z=1;p,a=2,m=3");
}

#[test]
fn a_repeated_key_keeps_its_first_place_and_last_value() {
    assert_eq!(reinject(&["b=1,a=2,b=3"]), "b=3,a=2");
}

#[test]
fn one_member_needs_no_order() {
    let cx = extract_cx(&["k=v"]);
    assert!(cx.get::<ReceivedOrder>().is_none());
    assert_eq!(reinject_cx(&cx), "k=v");
}

#[test]
fn what_the_application_changes_keeps_the_received_order() {
    let cx = extract_cx(&["z=1,y=2,x=3"]);
    let mut baggage: Baggage = cx
        .baggage()
        .iter()
        .filter(|(k, _)| k.as_str() != "y")
        .map(|(k, (v, m))| (k.clone(), (v.clone(), m.clone())))
        .collect();
    baggage.insert("x", "updated");
    baggage.insert("new", "n");
    let cx = cx.with_baggage(baggage);
    assert_eq!(
        reinject_cx(&cx),
        "z=1,x=updated,new=n",
        "received members in their order, updated in place; new ones after"
    );
}

#[test]
fn injects_properties() {
    let mut b = Baggage::new();
    b.insert_with_metadata("k", "v", "prop1;prop2=val2");
    let cx = Context::new().with_baggage(b);
    let mut out = HashMap::new();
    BaggagePropagator::new().inject_context(&cx, &mut out);
    assert_eq!(out[BAGGAGE], "k=v;prop1;prop2=val2");
}

#[test]
fn skips_what_the_format_cannot_express() {
    let mut b = Baggage::new();
    b.insert_with_metadata("k", "v", "bad,metadata");
    let cx = Context::new().with_baggage(b);
    let mut out = HashMap::new();
    BaggagePropagator::new().inject_context(&cx, &mut out);
    assert_eq!(
        out[BAGGAGE], "k=v",
        "invalid metadata is left out, the entry kept"
    );
}

#[test]
fn injects_nothing_for_empty_baggage() {
    assert_eq!(inject([]), None);
}

#[test]
fn round_trips() {
    let entries = [
        KeyValue::new("a", "plain"),
        KeyValue::new("b", " spaced out "),
        KeyValue::new("c", "ünïcödé ✓"),
        KeyValue::new("d", "%41 is not A"),
        KeyValue::new("e", ""),
    ];
    let header = inject(entries.clone()).unwrap();
    let b = extract(&header);
    for kv in entries {
        assert_eq!(
            get(&b, kv.key.as_str()),
            Some(kv.value.as_str().into_owned()),
            "{header}"
        );
    }
}
