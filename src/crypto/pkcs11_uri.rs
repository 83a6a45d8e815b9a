//! PKCS#11 URIs (RFC 7512): `pkcs11:token=release;object=vouch-root`, `…;id=%01%02`.
//!
//! What vouch reads from a URI: which token (`token`, `manufacturer`, `model`, `serial`,
//! `slot-id`) and which key (`object`, `id`, `type`). Values are percent-decoded; `id` is
//! binary, the others must be UTF-8. A URI that carries a PIN (`pin-value`) is refused: a
//! PIN never goes on the command line. `pin-source` and `module-path` are accepted and
//! ignored (the PIN and the module come from vouch's own options). Vendor attributes
//! (names with a `-` that RFC 7512 does not define) are ignored, as the RFC allows.

use std::fmt;

/// A parsed PKCS#11 URI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token`: the token's label.
    pub token: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    /// `slot-id`: the module's slot number.
    pub slot_id: Option<u64>,
    /// `object`: the key's label (`CKA_LABEL`).
    pub object: Option<String>,
    /// `id`: the key's `CKA_ID` (binary).
    pub id: Option<Vec<u8>>,
    /// `type`: `private`, `public`, `cert`, `secret-key` or `data`.
    pub object_type: Option<String>,
}

/// Why a string is not a usable PKCS#11 URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UriError(pub String);

const SCHEME: &str = "pkcs11:";

impl Pkcs11Uri {
    /// Parse `pkcs11:` followed by `;`-separated path attributes and an optional `?` query.
    pub fn parse(s: &str) -> Result<Pkcs11Uri, UriError> {
        let bad = |m: String| Err(UriError(m));
        let rest = match s.get(..SCHEME.len()) {
            Some(p) if p.eq_ignore_ascii_case(SCHEME) => &s[SCHEME.len()..],
            _ => return bad("a PKCS#11 URI starts with \"pkcs11:\"".into()),
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut uri = Pkcs11Uri::default();
        let mut seen: Vec<String> = Vec::new();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| UriError(format!("attribute {attr:?} has no '=' and value")))?;
            let name = name.to_owned();
            if seen.contains(&name) {
                return bad(format!("attribute {name:?} appears twice"));
            }
            let raw = decode(value)?;
            let text = || {
                String::from_utf8(raw.clone())
                    .map_err(|_| UriError(format!("the value of {name:?} is not UTF-8")))
            };
            match name.as_str() {
                "token" => uri.token = Some(text()?),
                "manufacturer" => uri.manufacturer = Some(text()?),
                "model" => uri.model = Some(text()?),
                "serial" => uri.serial = Some(text()?),
                "object" => uri.object = Some(text()?),
                "id" => uri.id = Some(raw.clone()),
                "type" => {
                    let t = text()?;
                    if !["private", "public", "cert", "secret-key", "data"].contains(&t.as_str()) {
                        return bad(format!("type={t:?} is not a PKCS#11 object type"));
                    }
                    uri.object_type = Some(t);
                }
                "slot-id" => {
                    let t = text()?;
                    uri.slot_id =
                        Some(t.parse().map_err(|_| {
                            UriError(format!("slot-id={t:?} is not a decimal number"))
                        })?);
                }
                "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-manufacturer"
                | "slot-description" => {}
                other if other.contains('-') => {}
                other => return bad(format!("unknown attribute {other:?}")),
            }
            seen.push(name);
        }
        for attr in query.into_iter().flat_map(|q| q.split('&')) {
            let name = attr.split_once('=').map_or(attr, |(n, _)| n);
            match name {
                "pin-value" => {
                    return bad(
                        "the URI carries a PIN (pin-value): give the PIN with VOUCH_PKCS11_PIN, \
                         VOUCH_PKCS11_PIN_FILE or at the prompt, never on the command line"
                            .into(),
                    )
                }
                "" | "pin-source" | "module-name" | "module-path" => {}
                other if other.contains('-') => {}
                other => return bad(format!("unknown query attribute {other:?}")),
            }
        }
        Ok(uri)
    }

    /// Whether the URI names a key (by label or ID).
    pub fn names_object(&self) -> bool {
        self.object.is_some() || self.id.is_some()
    }

    /// The URI without the key attributes: the token alone.
    pub fn token_only(&self) -> Pkcs11Uri {
        Pkcs11Uri {
            object: None,
            id: None,
            object_type: None,
            ..self.clone()
        }
    }

    /// Whether a token with this label, manufacturer, model and serial number matches.
    pub fn matches_token(
        &self,
        label: &str,
        manufacturer: &str,
        model: &str,
        serial: &str,
    ) -> bool {
        let eq = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w == have.trim_end())
        };
        eq(&self.token, label)
            && eq(&self.manufacturer, manufacturer)
            && eq(&self.model, model)
            && eq(&self.serial, serial)
    }
}

impl fmt::Display for Pkcs11Uri {
    /// The URI in RFC 7512's order, every value percent-encoded as needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        let mut push = |name: &str, v: Option<&[u8]>| {
            if let Some(v) = v {
                parts.push(format!("{name}={}", encode(v)));
            }
        };
        push("token", self.token.as_deref().map(str::as_bytes));
        push(
            "manufacturer",
            self.manufacturer.as_deref().map(str::as_bytes),
        );
        push("model", self.model.as_deref().map(str::as_bytes));
        push("serial", self.serial.as_deref().map(str::as_bytes));
        let slot = self.slot_id.map(|s| s.to_string());
        push("slot-id", slot.as_deref().map(str::as_bytes));
        push("object", self.object.as_deref().map(str::as_bytes));
        push("id", self.id.as_deref());
        push("type", self.object_type.as_deref().map(str::as_bytes));
        write!(f, "{SCHEME}{}", parts.join(";"))
    }
}

/// Percent-decode a value (`%` must be followed by two hex digits).
fn decode(v: &str) -> Result<Vec<u8>, UriError> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| UriError(format!("bad percent-encoding in {v:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Percent-encode everything but RFC 3986 unreserved characters and a few path characters
/// RFC 7512 allows unencoded (`:`, `[`, `]`, `@`, `!`, `$`, `'`, `(`, `)`, `*`, `+`, `,`, `&`).
fn encode(v: &[u8]) -> String {
    let mut out = String::with_capacity(v.len());
    for &c in v {
        if c.is_ascii_alphanumeric() || b"-._~:[]@!$'()*+,&".contains(&c) {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_object() {
        let u = Pkcs11Uri::parse("pkcs11:token=release;object=vouch-root").unwrap();
        assert_eq!(u.token.as_deref(), Some("release"));
        assert_eq!(u.object.as_deref(), Some("vouch-root"));
        assert_eq!(u.id, None);
        assert!(u.names_object());
        assert_eq!(u.to_string(), "pkcs11:token=release;object=vouch-root");
    }

    #[test]
    fn percent_decoding_and_binary_ids() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;object=a%3Bb;id=%01%fF;type=private",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("My Token"));
        assert_eq!(u.manufacturer.as_deref(), Some("SoftHSM project"));
        assert_eq!(u.object.as_deref(), Some("a;b"));
        assert_eq!(u.id.as_deref(), Some(&[0x01, 0xff][..]));
        assert_eq!(u.object_type.as_deref(), Some("private"));
        // Round trip through Display.
        assert_eq!(Pkcs11Uri::parse(&u.to_string()).unwrap(), u);
        assert!(u.to_string().contains("token=My%20Token"));
        assert!(u.to_string().contains("object=a%3Bb"));
    }

    #[test]
    fn scheme_is_case_insensitive_and_empty_path_is_any_token() {
        let u = Pkcs11Uri::parse("PKCS11:").unwrap();
        assert_eq!(u, Pkcs11Uri::default());
        assert!(!u.names_object());
        assert!(u.matches_token("anything", "m", "x", "1"));
    }

    #[test]
    fn slot_serial_and_token_matching() {
        let u = Pkcs11Uri::parse("pkcs11:token=release;serial=0123;slot-id=7").unwrap();
        assert_eq!(u.slot_id, Some(7));
        // Token labels are blank-padded to 32 bytes in CK_TOKEN_INFO.
        assert!(u.matches_token("release                         ", "m", "x", "0123"));
        assert!(!u.matches_token("release", "m", "x", "9999"));
        assert!(!u.matches_token("other", "m", "x", "0123"));
    }

    #[test]
    fn query_and_vendor_attributes() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=t;object=k;x-vendor=1?module-path=/usr/lib/x.so&pin-source=file:/p",
        )
        .unwrap();
        assert_eq!(u.object.as_deref(), Some("k"));
        assert_eq!(u.token_only().to_string(), "pkcs11:token=t");
    }

    #[test]
    fn refused() {
        for (bad, why) in [
            ("token=t", "starts with"),
            ("pkcs11x:token=t", "starts with"),
            ("pkcs11:token", "no '='"),
            ("pkcs11:token=a;token=b", "twice"),
            ("pkcs11:object=%4", "percent"),
            ("pkcs11:object=%zz", "percent"),
            ("pkcs11:object=%ff", "UTF-8"),
            ("pkcs11:colour=red", "unknown attribute"),
            ("pkcs11:type=key", "object type"),
            ("pkcs11:slot-id=x", "decimal"),
            ("pkcs11:token=t?pin-value=1234", "never on the command line"),
            ("pkcs11:token=t?colour=red", "unknown query"),
        ] {
            let e = Pkcs11Uri::parse(bad).expect_err(bad);
            assert!(e.0.contains(why), "{bad}: {e}");
        }
    }
}
