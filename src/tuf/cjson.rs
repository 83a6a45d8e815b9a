//! Canonical JSON, byte-identical to notary's Go encoder (protocol §4.1).
//!
//! Rules: no whitespace; object keys sorted byte-wise; in strings only `"` and `\` are
//! escaped and every other byte (control characters, `<>&`, non-ASCII) is written raw;
//! numbers must be integral (Go decodes them as float64, so the value is the one a
//! float64 holds) and are written in plain decimal.

use serde_json::Value;

use super::TufError;

/// Serialize `v` canonically.
pub fn to_canonical(v: &Value) -> Result<Vec<u8>, TufError> {
    let mut out = Vec::with_capacity(256);
    write_value(v, &mut out)?;
    Ok(out)
}

/// Serialize any `Serialize` value canonically (through a generic JSON value).
pub fn to_canonical_from<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, TufError> {
    let value = serde_json::to_value(v).map_err(|e| TufError::Malformed(e.to_string()))?;
    to_canonical(&value)
}

fn write_value(v: &Value, out: &mut Vec<u8>) -> Result<(), TufError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_value(&map[k], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), TufError> {
    // Go's verifier decodes every number into a float64 and re-encodes it; integral values
    // print as integers, anything else is an error. Emulate exactly that.
    let f = n
        .as_f64()
        .ok_or_else(|| TufError::Malformed(format!("number {n} is not representable")))?;
    if !f.is_finite() || f.fract() != 0.0 {
        return Err(TufError::Malformed(format!(
            "canonical JSON allows only integers, found {n}"
        )));
    }
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= 1u64 << 53) {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(u) = n.as_u64().filter(|u| *u <= 1u64 << 53) {
        out.extend_from_slice(u.to_string().as_bytes());
    } else {
        // Beyond 2^53 the float64 value is what Go writes.
        out.extend_from_slice(format!("{f:.0}").as_bytes());
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Apply the escaping Go's `json.Marshal` adds when it embeds canonical bytes in the file
/// envelope (protocol §4.3): `<` `>` `&` and U+2028/U+2029 become `\u` escapes. Only
/// applied inside strings; the canonical bytes have those characters only inside strings.
pub fn html_escape(canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical.len());
    let mut i = 0;
    while i < canonical.len() {
        let b = canonical[i];
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if canonical.get(i + 1) == Some(&0x80)
                && matches!(canonical.get(i + 2), Some(0xA8) | Some(0xA9)) =>
            {
                let last = canonical[i + 2];
                out.extend_from_slice(if last == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                i += 3;
                continue;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}
