//! Any text: canonicalized or refused, never a panic. What is canonical stays as it is
//! when canonicalized again, and means the same JSON as the input.
//!
//! Go's `MarshalCanonical` (which notary signs with, and vouch matches byte for byte)
//! escapes only `"` and `\` in strings: a string holding a control character is written
//! with that byte raw, which is no longer JSON a parser takes. Such outputs are checked
//! for no panic only. Numbers go through float64 and int64 as in Go (2^53 + 1 becomes
//! 2^53, anything past int64 becomes its minimum), so the meaning is compared only for
//! documents whose numbers a float64 holds exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::tuf::cjson::canonicalize_raw;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(once) = canonicalize_raw(text) else {
        return;
    };
    if once.iter().any(|b| *b < 0x20) {
        return;
    }
    let once_text = std::str::from_utf8(&once).expect("canonical JSON is UTF-8");
    let twice = canonicalize_raw(once_text).expect("canonical JSON parses again");
    assert_eq!(once, twice, "canonical form is not stable");
    // Same meaning (where serde_json reads both; duplicate keys keep the last value).
    if let (Ok(a), Ok(b)) = (
        serde_json::from_str::<serde_json::Value>(text),
        serde_json::from_slice::<serde_json::Value>(&once),
    ) {
        if exact_numbers(&a) {
            assert_eq!(
                normalized(a),
                normalized(b),
                "canonicalization changed the document"
            );
        }
    }
});

/// Every number of `v` is an integer a float64 holds exactly (|n| ≤ 2^53).
fn exact_numbers(v: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match v {
        Number(n) => n
            .as_f64()
            .is_some_and(|f| f.abs() <= 9_007_199_254_740_992.0),
        Array(a) => a.iter().all(exact_numbers),
        Object(o) => o.values().all(exact_numbers),
        _ => true,
    }
}

/// `v` with every number as an i64 (`1.0`, `1e2` and `1` are the same number to Go).
fn normalized(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value::*;
    match v {
        Number(n) => Number((n.as_f64().unwrap_or(0.0) as i64).into()),
        Array(a) => Array(a.into_iter().map(normalized).collect()),
        Object(o) => Object(o.into_iter().map(|(k, v)| (k, normalized(v))).collect()),
        other => other,
    }
}
