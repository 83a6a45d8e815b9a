//! Text tables (laid out like notary's) and JSON output.

/// A table with a header row, a row of dashes and aligned columns separated by at least
/// four spaces, as notary prints them.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let dashes: Vec<String> = self
            .header
            .iter()
            .map(|h| "-".repeat(h.chars().count()))
            .collect();
        let all: Vec<&Vec<String>> = std::iter::once(&self.header)
            .chain(std::iter::once(&dashes))
            .chain(self.rows.iter())
            .collect();
        let cols = self.header.len();
        let mut widths = vec![0usize; cols];
        for r in &all {
            for (i, c) in r.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in all {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(cols) {
                line.push_str(c);
                if i + 1 < cols {
                    let pad = (widths[i] + 4).max(4) - c.chars().count();
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The version of vouch's JSON output (`"vouch_json"` in every document).
pub const SCHEMA_VERSION: u32 = 1;

/// What a command that changes a repository says: `gun`, `published` (false when the
/// change was only staged), the new `versions` (null when nothing was published), and
/// the command's own fields from `extra` (an object).
pub fn change_json(
    gun: &str,
    report: Option<&vouch::trust::publish::PublishReport>,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "gun": gun,
        "published": report.is_some(),
        "versions": report.map(|r| &r.uploaded),
    });
    if let (Some(m), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    v
}

/// Set once a JSON answer went to stdout: a failure after it (`expiry`, `list
/// --check-registry` exit 1 with their answer) adds no error object, so stdout stays one
/// JSON document.
pub static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A command's answer in vouch's JSON schema: always an object with `"vouch_json":
/// SCHEMA_VERSION`; an answer that is a list is its `items`.
pub fn versioned(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut m = m.clone();
            m.entry("vouch_json")
                .or_insert_with(|| SCHEMA_VERSION.into());
            serde_json::Value::Object(m)
        }
        serde_json::Value::Array(_) => {
            serde_json::json!({"vouch_json": SCHEMA_VERSION, "items": v})
        }
        other => serde_json::json!({"vouch_json": SCHEMA_VERSION, "value": other}),
    }
}

/// Print a command's answer on stdout as a JSON document in vouch's schema
/// ([`versioned`]), pretty, with a trailing newline.
pub fn print_json(v: &serde_json::Value) {
    JSON_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut s = serde_json::to_string_pretty(&versioned(v)).expect("JSON values always serialize");
    s.push('\n');
    super::out::out_bytes(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_a_versioned_object() {
        let v = versioned(&serde_json::json!([1, 2]));
        assert_eq!(v, serde_json::json!({"vouch_json": 1, "items": [1, 2]}));
        let v = versioned(&serde_json::json!({"gun": "g"}));
        assert_eq!(v, serde_json::json!({"vouch_json": 1, "gun": "g"}));
    }

    #[test]
    fn table_matches_notary_layout() {
        let mut t = Table::new(&["NAME", "DIGEST", "SIZE (BYTES)", "ROLE"]);
        t.row(vec![
            "v1".into(),
            "abc".into(),
            "6".into(),
            "targets".into(),
        ]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "NAME    DIGEST    SIZE (BYTES)    ROLE");
        assert_eq!(lines[1], "----    ------    ------------    ----");
        assert_eq!(lines[2], "v1      abc       6               targets");
    }
}
