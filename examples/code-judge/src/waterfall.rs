//! The waterfall the demo draws: one row per span, indented by parent, on a common time axis.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use integration_tests::otlp::{any_value_text, hex};

/// A span as received: what the waterfall and the demo's checks need.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// `service.name` of the process that sent it.
    pub service: String,
    /// The span name.
    pub name: String,
    /// `SERVER`, `CLIENT`, `PRODUCER`, `CONSUMER` or `INTERNAL`.
    pub kind: &'static str,
    /// The trace id, hex.
    pub trace_id: String,
    /// The span id, hex.
    pub span_id: String,
    /// The parent's span id, hex; empty for a root.
    pub parent_span_id: String,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_ns: u64,
    /// Whether the span's status is Error.
    pub error: bool,
    /// Attributes, as text.
    pub attributes: BTreeMap<String, String>,
    /// The spans it links to, as `(trace id, span id)`, hex.
    pub links: Vec<(String, String)>,
}

impl Span {
    pub(crate) fn from_otlp(
        service: &str,
        span: opentelemetry_proto::tonic::trace::v1::Span,
    ) -> Span {
        let kind = match SpanKind::try_from(span.kind) {
            Ok(SpanKind::Server) => "SERVER",
            Ok(SpanKind::Client) => "CLIENT",
            Ok(SpanKind::Producer) => "PRODUCER",
            Ok(SpanKind::Consumer) => "CONSUMER",
            _ => "INTERNAL",
        };
        Span {
            service: service.to_owned(),
            name: span.name,
            kind,
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
            parent_span_id: hex(&span.parent_span_id),
            start_ns: span.start_time_unix_nano,
            end_ns: span.end_time_unix_nano.max(span.start_time_unix_nano),
            error: span
                .status
                .is_some_and(|s| s.code == StatusCode::Error as i32),
            attributes: span
                .attributes
                .iter()
                .map(|kv| {
                    let value = kv.value.as_ref().map(any_value_text).unwrap_or_default();
                    (kv.key.clone(), value)
                })
                .collect(),
            links: span
                .links
                .iter()
                .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                .collect(),
        }
    }

    /// A span for examples and tests: ids are small numbers, `parent` 0 for a root.
    pub fn test(
        service: &str,
        name: &str,
        id: u64,
        parent: u64,
        start_ns: u64,
        end_ns: u64,
    ) -> Span {
        Span {
            service: service.to_owned(),
            name: name.to_owned(),
            kind: "INTERNAL",
            trace_id: format!("{:032x}", 1),
            span_id: format!("{id:016x}"),
            parent_span_id: if parent == 0 {
                String::new()
            } else {
                format!("{parent:016x}")
            },
            start_ns,
            end_ns,
            error: false,
            attributes: BTreeMap::new(),
            links: Vec::new(),
        }
    }

    /// An attribute's value, as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// The spans of one trace, ordered as the waterfall shows them: each parent before its children,
/// siblings by start time; with each span's depth. Spans whose parent is not among them (a root,
/// or an orphan whose parent never arrived) start a tree of their own.
pub fn tree_order(spans: &[Span]) -> Vec<(usize, &Span)> {
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&Span>> = HashMap::new();
    let mut roots = Vec::new();
    for span in spans {
        if span.parent_span_id.is_empty() || !ids.contains(span.parent_span_id.as_str()) {
            roots.push(span);
        } else {
            children
                .entry(span.parent_span_id.as_str())
                .or_default()
                .push(span);
        }
    }
    roots.sort_by_key(|s| s.start_ns);
    for list in children.values_mut() {
        list.sort_by_key(|s| s.start_ns);
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, &Span)> = roots.into_iter().rev().map(|s| (0, s)).collect();
    let mut seen = HashSet::new();
    while let Some((depth, span)) = stack.pop() {
        if !seen.insert(span.span_id.as_str()) {
            continue;
        }
        out.push((depth, span));
        if let Some(kids) = children.get(span.span_id.as_str()) {
            stack.extend(kids.iter().rev().map(|k| (depth + 1, *k)));
        }
    }
    out
}

/// Draws the spans of one trace as a waterfall `bar_width` characters wide: a header with the
/// trace id, then a row per span with service, indented name, kind, start offset, duration and a
/// bar on the trace's time axis; error spans are marked `!`.
pub fn render(spans: &[Span], bar_width: usize) -> String {
    let mut out = String::new();
    let Some(start) = spans.iter().map(|s| s.start_ns).min() else {
        return out;
    };
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(start);
    let total = (end - start).max(1);
    let trace_id = &spans[0].trace_id;
    let _ = writeln!(
        out,
        "trace {trace_id}  {} spans  {:.1} ms",
        spans.len(),
        total as f64 / 1e6
    );
    let rows = tree_order(spans);
    let name_width = rows
        .iter()
        .map(|(depth, s)| depth * 2 + s.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    let service_width = rows.iter().map(|(_, s)| s.service.len()).max().unwrap_or(0);
    for (depth, span) in rows {
        let offset = span.start_ns - start;
        let duration = span.end_ns - span.start_ns;
        let from = (offset as u128 * bar_width as u128 / total as u128) as usize;
        let len = ((duration as u128 * bar_width as u128).div_ceil(total as u128) as usize).max(1);
        let from = from.min(bar_width.saturating_sub(1));
        let len = len.min(bar_width - from);
        let bar: String = " ".repeat(from) + &"█".repeat(len) + &" ".repeat(bar_width - from - len);
        let mut name = format!("{}{}", "  ".repeat(depth), span.name);
        if name.chars().count() > name_width {
            name = name
                .chars()
                .take(name_width.saturating_sub(1))
                .collect::<String>()
                + "…";
        }
        let _ = writeln!(
            out,
            "{mark} {service:<service_width$}  {name:<name_width$}  {kind:<8} {offset:>8.2} ms {duration:>8.2} ms |{bar}|",
            mark = if span.error { '!' } else { ' ' },
            service = span.service,
            kind = span.kind,
            offset = offset as f64 / 1e6,
            duration = duration as f64 / 1e6,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_follow_their_parent_in_start_order() {
        let spans = [
            Span::test("b", "late child", 3, 1, 50, 60),
            Span::test("a", "root", 1, 0, 0, 100),
            Span::test("b", "early child", 2, 1, 10, 20),
            Span::test("c", "grandchild", 4, 2, 12, 18),
        ];
        let order: Vec<(usize, &str)> = tree_order(&spans)
            .into_iter()
            .map(|(d, s)| (d, s.name.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (0, "root"),
                (1, "early child"),
                (2, "grandchild"),
                (1, "late child")
            ]
        );
    }

    #[test]
    fn an_orphan_starts_its_own_tree_and_errors_are_marked() {
        let mut orphan = Span::test("w", "orphan", 9, 77, 5, 6);
        orphan.error = true;
        let spans = [Span::test("a", "root", 1, 0, 0, 10), orphan];
        let text = render(&spans, 10);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[2].starts_with('!'), "{text}");
        assert!(lines[1].contains("|██████████|"), "{text}");
    }
}
