//! `wagegate explain FINDING_ID`: a finding in words, with its evidence and arithmetic.

use std::fmt::Write;

use schemas::Finding;

/// Human text for a finding: what, why (legal basis), the evidence and the arithmetic.
pub fn explain(f: &Finding) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} {} [{}]", f.id, f.code, f.severity.as_str());
    let _ = writeln!(s, "project:      {}", f.project);
    if !f.period.is_empty() {
        let _ = writeln!(s, "period:       {}", f.period);
    }
    let _ = writeln!(s, "amount short: {}", f.amount_short);
    if let Some(d) = f.due_date {
        let _ = writeln!(s, "due:          {d}");
    }
    let _ = writeln!(s, "basis:        {}", f.basis);
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", f.summary);
    let _ = writeln!(s);
    let _ = writeln!(s, "Evidence:");
    if f.evidence.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for (i, e) in f.evidence.iter().enumerate() {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(s, "  {}. [{}] {}", i + 1, kind, e.description);
        if let Some(a) = e.amount {
            let _ = write!(s, " | amount {a}");
        }
        if let Some(d) = e.date {
            let _ = write!(s, " | date {d}");
        }
        let _ = writeln!(s, "\n     key {}", e.key);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Computation:");
    for c in &f.computation {
        let _ = writeln!(s, "  {c}");
    }
    s
}
