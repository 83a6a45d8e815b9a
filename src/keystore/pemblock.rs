//! PEM blocks with RFC 1421 headers, read and written like Go's `encoding/pem`.
//!
//! Why not the `pem` crate: header values may contain `:` (a GUN with a port,
//! `gun: registry:5000/app`), Go writes `Proc-Type` first and the other headers sorted,
//! and Go does not require the blank line after the headers. This codec follows Go:
//! `Key: value` lines (split at the first `:`, both sides trimmed) until the first line
//! without a colon; base64 until `-----END <type>-----`; text outside blocks is ignored.
//! Unlike Go it reports a malformed block instead of silently skipping it.

use std::collections::BTreeMap;

use base64::Engine as _;
use zeroize::Zeroizing;

/// One PEM block. `bytes` may hold an unencrypted key, so it is wiped on drop.
pub struct PemBlock {
    pub kind: String,
    pub headers: BTreeMap<String, String>,
    pub bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemBlock")
            .field("kind", &self.kind)
            .field("headers", &self.headers)
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .finish()
    }
}

impl PemBlock {
    pub fn new(kind: &str, bytes: Zeroizing<Vec<u8>>) -> PemBlock {
        PemBlock {
            kind: kind.to_owned(),
            headers: BTreeMap::new(),
            bytes,
        }
    }

    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Encode like Go's `pem.Encode`: `Proc-Type` first, other headers sorted, a blank
    /// line after the headers, base64 in 64-character lines, LF line ends.
    ///
    /// Header keys must not contain `:` and no header may contain a line break (callers
    /// validate roles and GUNs first; this is the last line of defence).
    pub fn encode(&self) -> Result<Zeroizing<String>, String> {
        for (k, v) in &self.headers {
            if k.contains(':') || k.contains(['\n', '\r']) || v.contains(['\n', '\r']) {
                return Err(format!("PEM header {k:?} cannot be encoded"));
            }
        }
        let mut out = Zeroizing::new(String::new());
        out.push_str("-----BEGIN ");
        out.push_str(&self.kind);
        out.push_str("-----\n");
        if !self.headers.is_empty() {
            let proc_type = self.headers.get_key_value("Proc-Type");
            let rest = self
                .headers
                .iter()
                .filter(|(k, _)| k.as_str() != "Proc-Type");
            for (k, v) in proc_type.into_iter().chain(rest) {
                out.push_str(k);
                out.push_str(": ");
                out.push_str(v);
                out.push('\n');
            }
            out.push('\n');
        }
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*self.bytes));
        for chunk in b64.as_bytes().chunks(64) {
            // base64 output is ASCII, so every chunk is valid UTF-8.
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END ");
        out.push_str(&self.kind);
        out.push_str("-----\n");
        Ok(out)
    }
}

/// Parse every PEM block in `input`. Returns an error for a block that starts but is
/// malformed (no END line, mismatched END, bad base64, non-UTF-8 header).
pub fn parse_all(input: &[u8]) -> Result<Vec<PemBlock>, String> {
    let mut blocks = Vec::new();
    let mut lines = input.split(|b| *b == b'\n').map(trim_line).enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(kind) = begin_kind(line) else {
            continue;
        };
        let kind = std::str::from_utf8(kind)
            .map_err(|_| format!("line {}: PEM type is not UTF-8", n + 1))?
            .to_owned();
        let mut headers = BTreeMap::new();
        let mut b64 = Zeroizing::new(Vec::new());
        let mut in_headers = true;
        let mut ended = false;
        for (m, line) in lines.by_ref() {
            if let Some(end) = line.strip_prefix(b"-----END ") {
                if end != [kind.as_bytes(), b"-----"].concat().as_slice() {
                    return Err(format!(
                        "line {}: END line does not match BEGIN {kind:?}",
                        m + 1
                    ));
                }
                ended = true;
                break;
            }
            if in_headers {
                if let Some(colon) = line.iter().position(|b| *b == b':') {
                    let key = std::str::from_utf8(&line[..colon])
                        .map_err(|_| format!("line {}: PEM header is not UTF-8", m + 1))?;
                    let value = std::str::from_utf8(&line[colon + 1..])
                        .map_err(|_| format!("line {}: PEM header is not UTF-8", m + 1))?;
                    headers.insert(key.trim().to_owned(), value.trim().to_owned());
                    continue;
                }
                in_headers = false;
            }
            b64.extend(line.iter().filter(|b| !matches!(b, b' ' | b'\t')));
        }
        if !ended {
            return Err(format!(
                "PEM block {kind:?} has no END line (truncated file?)"
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&*b64)
            .map_err(|e| format!("PEM block {kind:?}: invalid base64: {e}"))?;
        blocks.push(PemBlock {
            kind,
            headers,
            bytes: Zeroizing::new(bytes),
        });
    }
    Ok(blocks)
}

fn begin_kind(line: &[u8]) -> Option<&[u8]> {
    line.strip_prefix(b"-----BEGIN ")?.strip_suffix(b"-----")
}

/// Go's `getLine` trims trailing spaces, tabs and carriage returns.
fn trim_line(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |i| i + 1);
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_sorted_proc_type_first_and_colons_kept() {
        let mut b = PemBlock::new("EC PRIVATE KEY", Zeroizing::new(vec![7u8; 100]));
        b.headers.insert("role".into(), "targets".into());
        b.headers.insert("gun".into(), "reg:5000/app".into());
        b.headers.insert("Proc-Type".into(), "4,ENCRYPTED".into());
        b.headers.insert("DEK-Info".into(), "AES-256-CBC,00".into());
        let text = b.encode().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1..6],
            [
                "Proc-Type: 4,ENCRYPTED",
                "DEK-Info: AES-256-CBC,00",
                "gun: reg:5000/app",
                "role: targets",
                ""
            ]
        );
        assert!(lines[6..lines.len() - 1].iter().all(|l| l.len() <= 64));
        let back = parse_all(text.as_bytes()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].headers, b.headers);
        assert_eq!(*back[0].bytes, *b.bytes);
    }

    #[test]
    fn truncated_and_mismatched_blocks_are_errors() {
        let b = PemBlock::new("PRIVATE KEY", Zeroizing::new(vec![1u8; 80]));
        let text = b.encode().unwrap();
        let cut = &text[..text.len() - 20];
        assert!(parse_all(cut.as_bytes())
            .unwrap_err()
            .contains("no END line"));
        let wrong = text.replace("END PRIVATE KEY", "END PUBLIC KEY");
        assert!(parse_all(wrong.as_bytes())
            .unwrap_err()
            .contains("does not match"));
        let bad = text.replacen("AQEB", "A!EB", 1);
        assert!(parse_all(bad.as_bytes()).unwrap_err().contains("base64"));
        assert!(parse_all(b"no pem here").unwrap().is_empty());
    }
}
