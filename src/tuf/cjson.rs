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

/// Canonicalize JSON text as Go's verifier does (protocol §4.2): decode it, re-emit it
/// with the §4.1 rules. One pass of the parser over the text, writing as it reads, so
/// large documents need no in-memory tree.
pub fn canonicalize_raw(text: &str) -> Result<Vec<u8>, TufError> {
    // The parser recurses per level with its own limit turned off: refuse deep nesting
    // in one pass first, so that the stack stays bounded.
    if nesting_exceeds(text.as_bytes(), MAX_DEPTH) {
        return Err(TufError::Malformed(format!(
            "JSON nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut out = Vec::with_capacity(text.len());
    write_raw(text, &mut out)?;
    Ok(out)
}

/// Whether brackets outside strings nest deeper than `max` + 1 levels (the depth
/// canonicalization allows), without parsing.
fn nesting_exceeds(text: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max + 1 {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

const MAX_DEPTH: usize = 128;

/// One pass of serde_json's parser over the text, writing canonical output as it goes.
/// Members of an object are written in document order, each with its leading comma;
/// when the object ends, they are put in key order (later duplicates replacing earlier
/// ones, as Go's map decoding does) only if the document did not have them in that order
/// already — which notary's and vouch's own files always do.
fn write_raw(text: &str, out: &mut Vec<u8>) -> Result<(), TufError> {
    use serde::de::DeserializeSeed as _;
    let bad = |e: serde_json::Error| TufError::Malformed(format!("invalid JSON: {e}"));
    if text.trim().is_empty() {
        return Err(TufError::Malformed("empty JSON value".into()));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    // Depth is bounded by `nesting_exceeds` before this runs.
    de.disable_recursion_limit();
    let mut err = None;
    Canon { out, err: &mut err }
        .deserialize(&mut de)
        .map_err(|e| err.take().unwrap_or_else(|| bad(e)))?;
    de.end().map_err(bad)?;
    Ok(())
}

/// Writes the value it deserializes canonically into `out`. A number canonical JSON
/// cannot hold is kept in `err` (serde's error type carries only text).
struct Canon<'o> {
    out: &'o mut Vec<u8>,
    err: &'o mut Option<TufError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Canon<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// An object key, borrowed from the text unless it has escapes.
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(s))
    }
}

impl Canon<'_> {
    fn number<E: serde::de::Error>(self, n: serde_json::Number) -> Result<(), E> {
        write_number(&n, self.out).map_err(|e| {
            let msg = e.to_string();
            *self.err = Some(e);
            E::custom(msg)
        })
    }
}

impl<'de> serde::de::Visitor<'de> for Canon<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if b { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<(), E> {
        self.number(n.into())
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<(), E> {
        self.number(n.into())
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<(), E> {
        match serde_json::Number::from_f64(n) {
            Some(num) => self.number(num),
            None => Err(E::custom(format!("number {n} is not representable"))),
        }
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        write_string(s, self.out);
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            if !first {
                self.out.push(b',');
            }
            let mark = self.out.len();
            let got = seq.next_element_seed(Canon {
                out: &mut *self.out,
                err: &mut *self.err,
            })?;
            if got.is_none() {
                if !first {
                    // The comma written for an element that was not there.
                    self.out.truncate(mark - 1);
                }
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let open = self.out.len();
        self.out.push(b'{');
        // (key, start, end) of each member's `"key":value` bytes, comma excluded.
        let mut members: Vec<(std::borrow::Cow<'de, str>, usize, usize)> = Vec::new();
        let mut in_order = true;
        while let Some(key) = map.next_key_seed(Key)? {
            if let Some((prev, _, _)) = members.last() {
                // Strictly increasing keys: already canonical (and no duplicates).
                in_order &= prev.as_bytes() < key.as_bytes();
                self.out.push(b',');
            }
            let start = self.out.len();
            write_string(&key, self.out);
            self.out.push(b':');
            map.next_value_seed(Canon {
                out: &mut *self.out,
                err: &mut *self.err,
            })?;
            members.push((key, start, self.out.len()));
        }
        if !in_order {
            // Stable sort, then keep the last of equal keys.
            let mut order: Vec<usize> = (0..members.len()).collect();
            order.sort_by(|&a, &b| members[a].0.as_bytes().cmp(members[b].0.as_bytes()));
            let mut keep: Vec<usize> = Vec::with_capacity(order.len());
            for i in order {
                match keep.last() {
                    Some(&last) if members[last].0 == members[i].0 => {
                        *keep.last_mut().expect("not empty") = i;
                    }
                    _ => keep.push(i),
                }
            }
            let mut body = Vec::with_capacity(self.out.len() - open);
            for (n, &i) in keep.iter().enumerate() {
                if n > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&self.out[members[i].1..members[i].2]);
            }
            self.out.truncate(open + 1);
            self.out.extend_from_slice(&body);
        }
        self.out.push(b'}');
        Ok(())
    }
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
    // Go's verifier decodes every number into a float64 and writes `int64(f)`; anything
    // non-integral is an error. Emulate exactly that (so 2^53 + 1 prints as 2^53, `1.0`
    // and `1e2` print as `1` and `100`, `-0` prints as `0`).
    let f = n
        .as_f64()
        .ok_or_else(|| TufError::Malformed(format!("number {n} is not representable")))?;
    if !f.is_finite() || f.fract() != 0.0 {
        return Err(TufError::Malformed(format!(
            "canonical JSON allows only integers, found {n}"
        )));
    }
    // Out of int64 range, Go's conversion yields the "integer indefinite" value on amd64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let i = if (-TWO_63..TWO_63).contains(&f) {
        f as i64
    } else {
        i64::MIN
    };
    out.extend_from_slice(i.to_string().as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(text: &str) -> Vec<u8> {
        to_canonical(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn protocol_vector_12_1() {
        let got = canon(r#"{"b":1,"a":"<&>","_t":"x\n\u00e9\"\\","Z":[true,null]}"#);
        let mut want = b"{\"Z\":[true,null],\"_t\":\"x\n".to_vec();
        want.extend_from_slice("é".as_bytes());
        want.extend_from_slice(b"\\\"\\\\\",\"a\":\"<&>\",\"b\":1}");
        assert_eq!(got, want);
        assert!(got.contains(&b'\n') && got.windows(2).any(|w| w == [0xC3, 0xA9]));
    }

    #[test]
    fn go_encoder_test_cases() {
        // encode_test.go: struct {S:"",F:0,I:0,E:nil} with fields sorted by name.
        assert_eq!(
            canon(r#"{"S":"","F":0,"I":0,"E":null}"#),
            br#"{"E":null,"F":0,"I":0,"S":""}"#
        );
        // Floats that are not integral are refused.
        let err = to_canonical(&json!(1.2)).unwrap_err();
        assert!(err.to_string().contains("only integers"), "{err}");
        // Only `\` and `"` are escaped; U+0090, TAB and LF are written raw.
        let got = to_canonical(&json!("\u{0090} \t \\ \n \"")).unwrap();
        let mut want = b"\"".to_vec();
        want.extend_from_slice("\u{0090}".as_bytes());
        want.extend_from_slice(b" \t \\\\ \n \\\"\"");
        assert_eq!(got, want);
    }

    #[test]
    fn keys_sort_bytewise_and_nest() {
        assert_eq!(
            canon(r#"{"a":{"z":1,"Z":2,"_":3},"B":[],"é":0,"e":{}}"#),
            "{\"B\":[],\"a\":{\"Z\":2,\"_\":3,\"z\":1},\"e\":{},\"é\":0}".as_bytes()
        );
    }

    #[test]
    fn numbers_go_through_float64_like_go() {
        assert_eq!(canon("[1.0,1e2,-0,-5,0]"), b"[1,100,0,-5,0]");
        // 2^53 + 1 is not a float64; Go writes the rounded value.
        assert_eq!(canon("9007199254740993"), b"9007199254740992");
        assert_eq!(canon("-9007199254740993"), b"-9007199254740992");
        assert_eq!(canon("9223372036854775807"), b"-9223372036854775808");
        assert!(to_canonical(&serde_json::from_str("2.5").unwrap()).is_err());
    }

    #[test]
    fn key_id_input_bytes() {
        // protocol §12.1: the key object of baseECDSAKey and its ID.
        let v = json!({"keyval":{"public":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgl3rzMPMEKhS1k/AX16MM4PdidpjJr+z4pj0Td+30QnpbOIARgpyR1PiFztU8BZlqG3cUazvFclr2q/xHvfrqw==","private":null},"keytype":"ecdsa"});
        let bytes = to_canonical(&v).unwrap();
        assert_eq!(
            bytes,
            br#"{"keytype":"ecdsa","keyval":{"private":null,"public":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgl3rzMPMEKhS1k/AX16MM4PdidpjJr+z4pj0Td+30QnpbOIARgpyR1PiFztU8BZlqG3cUazvFclr2q/xHvfrqw=="}}"#
        );
        use sha2::Digest as _;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            "e3a5a4fdaf11ea1ec58f5efed6f3639b39cd4cfa1418c8b55c9a8c2447ace5d9"
        );
    }

    #[test]
    fn to_canonical_from_serializes_structs() {
        #[derive(serde::Serialize)]
        struct S {
            z: u8,
            a: Option<u8>,
        }
        assert_eq!(
            to_canonical_from(&S { z: 1, a: None }).unwrap(),
            br#"{"a":null,"z":1}"#
        );
    }

    #[test]
    fn html_escape_like_go_marshal() {
        let canonical = "{\"t\":\"a<b>&c\u{2028}d\u{2029}e\u{2027}\"}".as_bytes();
        assert_eq!(
            html_escape(canonical),
            br#"{"t":"a\u003cb\u003e\u0026c\u2028d\u2029e"#
                .iter()
                .chain("\u{2027}\"}".as_bytes())
                .copied()
                .collect::<Vec<u8>>()
        );
        // Nothing else changes (non-ASCII, escapes already present).
        let plain = "{\"é\":\"\\\"x\\\\\"}".as_bytes();
        assert_eq!(html_escape(plain), plain);
    }

    #[test]
    fn escaped_input_round_trips_to_raw_canonical() {
        // A file written by Go holds `\u003c`; parsing decodes it, canonical is raw `<`.
        assert_eq!(canon(r#"{"n":"a\u003cb"}"#), br#"{"n":"a<b"}"#);
        assert_eq!(
            html_escape(&canon(r#"{"n":"a\u003cb"}"#)),
            br#"{"n":"a\u003cb"}"#
        );
    }
}

#[cfg(test)]
mod raw_tests {
    use super::*;

    #[test]
    fn raw_canonicalization_matches_the_value_path() {
        let cases = [
            r#"{"b":1,"a":"<&>","_t":"x\n\u00e9\"\\","Z":[true,null]}"#,
            r#"{ "z" : { "y" : [ 1 , 2.0 , -0 , {"b":"\u2028","a":[]} ] }, "a" : "\ud83d\ude00" }"#,
            r#"{"dup":1,"dup":2}"#,
            r#"[]"#,
        ];
        for c in cases {
            let v: Value = serde_json::from_str(c).unwrap();
            assert_eq!(
                canonicalize_raw(c).unwrap(),
                to_canonical(&v).unwrap(),
                "{c}"
            );
        }
        assert_eq!(
            canonicalize_raw(r#"{"b":1,"a":"<&>","_t":"x\n\u00e9\"\\","Z":[true,null]}"#).unwrap(),
            "{\"Z\":[true,null],\"_t\":\"x\n\u{e9}\\\"\\\\\",\"a\":\"<&>\",\"b\":1}".as_bytes()
        );
        assert!(canonicalize_raw(r#"{"a":1.5}"#).is_err());
        assert!(canonicalize_raw(r#"{"a":"#).is_err());
    }

    /// Nesting is bounded in one pass before parsing (the parser recurses per level);
    /// brackets inside strings, escaped quotes included, do not count.
    #[test]
    fn nesting_is_bounded_before_parsing() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(canonicalize_raw(&deep(MAX_DEPTH + 1)).is_ok());
        for n in [MAX_DEPTH + 2, 10_000, 1 << 20] {
            let t = std::time::Instant::now();
            let e = canonicalize_raw(&deep(n)).unwrap_err();
            assert!(e.to_string().contains("nested deeper"), "{e}");
            assert!(
                t.elapsed() < std::time::Duration::from_secs(1),
                "{n}: {:?}",
                t.elapsed()
            );
        }
        let in_string = format!(r#"["{}\"{}"]"#, "[".repeat(500), "{".repeat(500));
        assert_eq!(
            canonicalize_raw(&in_string).unwrap(),
            in_string.as_bytes().to_vec()
        );
        assert!(nesting_exceeds(deep(MAX_DEPTH + 2).as_bytes(), MAX_DEPTH));
        assert!(!nesting_exceeds(deep(MAX_DEPTH + 1).as_bytes(), MAX_DEPTH));
    }
}
