//! Container images in Kubernetes manifests: where they are, what they pin to, and
//! rewriting them in place.
//!
//! [`find_images`] parses a YAML stream (several documents, Helm's rendered output, `List`
//! objects) and returns every image with its exact byte range in the text and a JSON
//! pointer inside its document. [`splice`] replaces image values at those ranges and
//! nothing else: comments, key order, quoting, indentation and blank lines stay
//! byte-identical, because the text is never serialised again.
//!
//! An image is the `image` of an entry of a `containers`, `initContainers` or
//! `ephemeralContainers` list, at any depth. That is the pod spec of every workload kind —
//! `/spec/…` of a Pod; `/spec/template/spec/…` of a Deployment, ReplicaSet,
//! ReplicationController, DaemonSet, StatefulSet or Job; `/spec/jobTemplate/spec/template/spec/…`
//! of a CronJob; `/items/N/…` of a List — and of custom resources that embed a pod template.
//!
//! What could make a rewrite change more than the image, or make the image mean something
//! else than it reads, is refused with a [`ManifestError`] naming the line: anchors, aliases
//! and tags on images or container lists, merge keys (`<<`) in a container, an `image`
//! given twice, block or multi-line scalars, escape sequences in a double-quoted image.
//!
//! What one image reference pins to, from a verified repository state, is decided by
//! [`crate::trust::images::check_image`], with the same verdict as `vouch verify`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// The lists of a pod spec whose entries have an `image`.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Deeper nesting than this is refused (no manifest needs it; it bounds recursion).
const MAX_DEPTH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("line {line} column {column}: not valid YAML: {reason}")]
    Parse {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("line {line}: {pointer}: {reason}")]
    Unsupported {
        line: usize,
        pointer: String,
        reason: String,
    },
    #[error("line {line}: {pointer}: {reason}")]
    BadImage {
        line: usize,
        pointer: String,
        reason: String,
    },
    #[error("{digest} is not the signed digest of any tag in {gun}")]
    DigestNotSigned { gun: String, digest: String },
    #[error("{count} of {total} image(s) not pinned to a signed digest")]
    NotPinned { count: usize, total: usize },
    #[error("cannot write the image {value:?} back as a {quoting} scalar")]
    CannotRender {
        value: String,
        quoting: &'static str,
    },
    #[error("the edits do not match the text (range {start}..{end})")]
    BadEdit { start: usize, end: usize },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ManifestError {
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        match self {
            ManifestError::DigestNotSigned { .. } | ManifestError::NotPinned { .. } => {
                crate::exit::ExitCode::NotTrusted
            }
            _ => crate::exit::ExitCode::Usage,
        }
    }
}

/// How an image value is written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    Plain,
    Single,
    Double,
}

impl Quoting {
    fn name(self) -> &'static str {
        match self {
            Quoting::Plain => "plain",
            Quoting::Single => "single-quoted",
            Quoting::Double => "double-quoted",
        }
    }
}

/// One image in a manifest text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOccurrence {
    /// The YAML document it is in (0 for the first).
    pub document: usize,
    /// JSON pointer (RFC 6901) inside that document, e.g. `/spec/template/spec/containers/0/image`.
    pub pointer: String,
    /// `Kind/name` of the object holding it (a List's item, else the document), when known.
    pub object: Option<String>,
    /// The image as its value reads.
    pub image: String,
    /// Bytes of the value in the text, quotes included.
    pub range: Range<usize>,
    pub quoting: Quoting,
    /// Inside a flow collection (`[…]`, `{…}`).
    pub in_flow: bool,
    /// 1-based line and column of the value.
    pub line: usize,
    pub column: usize,
}

/// Every image in `text`, in text order.
pub fn find_images(text: &str) -> Result<Vec<ImageOccurrence>, ManifestError> {
    let docs = parse_stream(text)?;
    let mut out = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let object = object_label(doc);
        walk(text, doc, i, String::new(), object, 0, &mut out)?;
    }
    out.sort_by_key(|o| o.range.start);
    Ok(out)
}

/// `text` with each occurrence's value replaced by the paired image, written in the
/// occurrence's quoting; everything else byte for byte as it was.
pub fn splice(text: &str, edits: &[(&ImageOccurrence, &str)]) -> Result<String, ManifestError> {
    let mut edits: Vec<&(&ImageOccurrence, &str)> = edits.iter().collect();
    edits.sort_by_key(|(o, _)| o.range.start);
    let mut out = String::with_capacity(text.len() + edits.len() * 72);
    let mut pos = 0;
    for (occ, new) in edits {
        let r = &occ.range;
        let bad = || ManifestError::BadEdit {
            start: r.start,
            end: r.end,
        };
        if r.start < pos || r.end > text.len() || r.start > r.end {
            return Err(bad());
        }
        let raw = text.get(r.clone()).ok_or_else(bad)?;
        if render(&occ.image, occ.quoting, occ.in_flow).as_deref() != Some(raw) {
            return Err(bad());
        }
        let rendered =
            render(new, occ.quoting, occ.in_flow).ok_or_else(|| ManifestError::CannotRender {
                value: (*new).to_owned(),
                quoting: occ.quoting.name(),
            })?;
        out.push_str(&text[pos..r.start]);
        out.push_str(&rendered);
        pos = r.end;
    }
    out.push_str(&text[pos..]);
    Ok(out)
}

/// `value` as a YAML scalar of style `q`, or `None` when that style cannot hold it
/// unchanged on one line.
fn render(value: &str, q: Quoting, in_flow: bool) -> Option<String> {
    if value.is_empty() || value.chars().any(|c| c.is_control()) {
        return None;
    }
    match q {
        Quoting::Plain => {
            let first = value.chars().next()?;
            let unsafe_start = "-?:,[]{}#&*!|>'\"%@`".contains(first);
            let unsafe_char = value
                .chars()
                .any(|c| c.is_whitespace() || c == '#' || (in_flow && ",[]{}".contains(c)));
            let ends_colon = value.ends_with(':');
            (!unsafe_start && !unsafe_char && !ends_colon).then(|| value.to_owned())
        }
        Quoting::Single => Some(format!("'{}'", value.replace('\'', "''"))),
        Quoting::Double => Some(format!(
            "\"{}\"",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        )),
    }
}

/// A parsed node with what locating and refusing needs.
#[derive(Debug)]
enum Node {
    Scalar(Scalar),
    Seq {
        items: Vec<Node>,
        props: bool,
        line: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        props: bool,
        line: usize,
    },
    Alias {
        line: usize,
    },
}

#[derive(Debug)]
struct Scalar {
    value: String,
    style: ScalarStyle,
    /// Has an anchor or a tag.
    props: bool,
    /// Byte offsets as the parser reports them (start includes anchor and tag).
    start: usize,
    end: usize,
    line: usize,
    column: usize,
    in_flow: bool,
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Scalar(s) => s.line,
            Node::Seq { line, .. } | Node::Map { line, .. } | Node::Alias { line } => *line,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(&s.value),
            _ => None,
        }
    }
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Maps the parser's character offsets to byte offsets.
struct Offsets {
    /// Byte offset of each char (None: the text is ASCII, offsets are equal).
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Offsets {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b).collect());
        Offsets {
            table,
            len: text.len(),
        }
    }
    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

struct Builder<'a> {
    events: Parser<'a, saphyr_parser::StrInput<'a>>,
    offsets: Offsets,
    text: &'a str,
}

fn parse_error(e: &saphyr_parser::ScanError) -> ManifestError {
    ManifestError::Parse {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        reason: e.info().to_owned(),
    }
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), ManifestError> {
        match self.events.next() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(parse_error(&e)),
            None => Err(ManifestError::Parse {
                line: 0,
                column: 0,
                reason: "unexpected end of the stream".into(),
            }),
        }
    }

    fn starts_flow(&self, span: &Span, open: char) -> bool {
        let b = self.offsets.byte(span.start.index());
        self.text[b..].starts_with(open)
    }

    fn node(
        &mut self,
        ev: Event<'a>,
        span: Span,
        depth: usize,
        flow: bool,
    ) -> Result<Node, ManifestError> {
        let line = span.start.line();
        if depth > MAX_DEPTH {
            return Err(ManifestError::Parse {
                line,
                column: span.start.col() + 1,
                reason: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
        match ev {
            Event::Scalar(value, style, anchor, tag) => Ok(Node::Scalar(Scalar {
                value: value.into_owned(),
                style,
                props: anchor != 0 || tag.is_some(),
                start: self.offsets.byte(span.start.index()),
                end: self.offsets.byte(span.end.index()),
                line,
                column: span.start.col() + 1,
                in_flow: flow,
            })),
            Event::Alias(_) => Ok(Node::Alias { line }),
            Event::SequenceStart(anchor, tag) => {
                let inner_flow = flow || self.starts_flow(&span, '[');
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, sp, depth + 1, inner_flow)?);
                }
                Ok(Node::Seq {
                    items,
                    props: anchor != 0 || tag.is_some(),
                    line,
                })
            }
            Event::MappingStart(anchor, tag) => {
                let inner_flow = flow || self.starts_flow(&span, '{');
                let mut entries = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(ev, sp, depth + 1, inner_flow)?;
                    let (ev, sp) = self.next()?;
                    let value = self.node(ev, sp, depth + 1, inner_flow)?;
                    entries.push((key, value));
                }
                Ok(Node::Map {
                    entries,
                    props: anchor != 0 || tag.is_some(),
                    line,
                })
            }
            other => Err(ManifestError::Parse {
                line,
                column: span.start.col() + 1,
                reason: format!("unexpected {other:?}"),
            }),
        }
    }
}

/// The documents of a YAML stream.
fn parse_stream(text: &str) -> Result<Vec<Node>, ManifestError> {
    let mut b = Builder {
        events: Parser::new_from_str(text),
        offsets: Offsets::new(text),
        text,
    };
    let mut docs = Vec::new();
    loop {
        let (ev, span) = match b.events.next() {
            None => break,
            Some(r) => r.map_err(|e| parse_error(&e))?,
        };
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                let (ev, span) = b.next()?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(Node::Map {
                        entries: Vec::new(),
                        props: false,
                        line: span.start.line(),
                    });
                    continue;
                }
                docs.push(b.node(ev, span, 0, false)?);
            }
            other => {
                return Err(ManifestError::Parse {
                    line: span.start.line(),
                    column: span.start.col() + 1,
                    reason: format!("unexpected {other:?}"),
                })
            }
        }
    }
    Ok(docs)
}

/// `Kind/name` of an object, from its `kind` and `metadata.name`.
fn object_label(obj: &Node) -> Option<String> {
    let kind = obj.get("kind").and_then(Node::as_str)?;
    let name = obj
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str);
    Some(match name {
        Some(n) => format!("{kind}/{n}"),
        None => kind.to_owned(),
    })
}

/// RFC 6901: `~` → `~0`, `/` → `~1`.
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unsupported(line: usize, pointer: &str, reason: impl Into<String>) -> ManifestError {
    ManifestError::Unsupported {
        line,
        pointer: if pointer.is_empty() {
            "/".into()
        } else {
            pointer.to_owned()
        },
        reason: reason.into(),
    }
}

fn walk(
    text: &str,
    node: &Node,
    document: usize,
    pointer: String,
    object: Option<String>,
    depth: usize,
    out: &mut Vec<ImageOccurrence>,
) -> Result<(), ManifestError> {
    match node {
        Node::Map { entries, .. } => {
            let is_list = depth == 0
                && node
                    .get("kind")
                    .and_then(Node::as_str)
                    .is_some_and(|k| k.ends_with("List"));
            for (k, v) in entries {
                let Some(key) = k.as_str() else { continue };
                let here = format!("{pointer}/{}", escape_pointer(key));
                if CONTAINER_LISTS.contains(&key) {
                    containers(text, v, document, &here, object.as_deref(), out)?;
                    continue;
                }
                if is_list && key == "items" {
                    if let Node::Seq { items, .. } = v {
                        for (i, item) in items.iter().enumerate() {
                            let label = object_label(item).or_else(|| object.clone());
                            walk(
                                text,
                                item,
                                document,
                                format!("{here}/{i}"),
                                label,
                                depth + 1,
                                out,
                            )?;
                        }
                        continue;
                    }
                }
                walk(text, v, document, here, object.clone(), depth + 1, out)?;
            }
        }
        Node::Seq { items, .. } => {
            for (i, item) in items.iter().enumerate() {
                walk(
                    text,
                    item,
                    document,
                    format!("{pointer}/{i}"),
                    object.clone(),
                    depth + 1,
                    out,
                )?;
            }
        }
        Node::Scalar(_) | Node::Alias { .. } => {}
    }
    Ok(())
}

/// The images of a `containers`-like list at `pointer`.
fn containers(
    text: &str,
    list: &Node,
    document: usize,
    pointer: &str,
    object: Option<&str>,
    out: &mut Vec<ImageOccurrence>,
) -> Result<(), ManifestError> {
    let items = match list {
        Node::Seq { items, props, line } => {
            if *props {
                return Err(unsupported(*line, pointer, "an anchor or tag on a container list is not supported: pin-manifests rewrites images only where they are written"));
            }
            items
        }
        Node::Alias { line } => {
            return Err(unsupported(
                *line,
                pointer,
                "the container list is an alias (*name): write the containers out here",
            ))
        }
        // `containers: null` or a scalar: nothing to pin.
        _ => return Ok(()),
    };
    for (i, item) in items.iter().enumerate() {
        let here = format!("{pointer}/{i}");
        let entries = match item {
            Node::Map {
                entries,
                props,
                line,
            } => {
                if *props {
                    return Err(unsupported(
                        *line,
                        &here,
                        "an anchor or tag on a container is not supported",
                    ));
                }
                entries
            }
            Node::Alias { line } => {
                return Err(unsupported(
                    *line,
                    &here,
                    "the container is an alias (*name): write it out here",
                ))
            }
            _ => continue,
        };
        let mut found: Option<&Node> = None;
        for (k, v) in entries {
            match k.as_str() {
                Some("<<") => {
                    return Err(unsupported(
                        k.line(),
                        &here,
                        "a merge key (<<) in a container is not supported: its image could come from elsewhere",
                    ))
                }
                Some("image") => {
                    if found.is_some() {
                        return Err(unsupported(
                            k.line(),
                            &format!("{here}/image"),
                            "image is given twice in this container",
                        ));
                    }
                    found = Some(v);
                }
                _ => {}
            }
        }
        let Some(v) = found else { continue };
        let at = format!("{here}/image");
        out.push(image_value(text, v, document, at, object)?);
    }
    Ok(())
}

/// An `image` value located byte for byte, or why it cannot be rewritten safely.
fn image_value(
    text: &str,
    v: &Node,
    document: usize,
    pointer: String,
    object: Option<&str>,
) -> Result<ImageOccurrence, ManifestError> {
    let s = match v {
        Node::Scalar(s) => s,
        Node::Alias { line } => {
            return Err(unsupported(
                *line,
                &pointer,
                "the image is an alias (*name): write the image here",
            ))
        }
        other => {
            return Err(ManifestError::BadImage {
                line: other.line(),
                pointer,
                reason: "the image is not a string".into(),
            })
        }
    };
    if s.props {
        return Err(unsupported(
            s.line,
            &pointer,
            "an anchor (&name) or tag (!tag) on an image is not supported: write the image as a plain or quoted string",
        ));
    }
    let rest = &text[s.start..];
    let (quoting, len) =
        match s.style {
            ScalarStyle::Plain => (Quoting::Plain, s.end.saturating_sub(s.start)),
            ScalarStyle::SingleQuoted => (Quoting::Single, quoted_len(rest, '\'', &pointer, s)?),
            ScalarStyle::DoubleQuoted => (Quoting::Double, quoted_len(rest, '"', &pointer, s)?),
            _ => return Err(unsupported(
                s.line,
                &pointer,
                "a block scalar (| or >) as an image is not supported: write the image on one line",
            )),
        };
    let range = s.start..s.start + len;
    let raw = text.get(range.clone()).unwrap_or_default();
    if s.value.is_empty() {
        return Err(ManifestError::BadImage {
            line: s.line,
            pointer,
            reason: "the image is empty".into(),
        });
    }
    if render(&s.value, quoting, s.in_flow).as_deref() != Some(raw) {
        return Err(unsupported(
            s.line,
            &pointer,
            format!("the image {raw:?} is not written on one line as a plain or simply quoted string (no escapes)"),
        ));
    }
    Ok(ImageOccurrence {
        document,
        pointer,
        object: object.map(str::to_owned),
        image: s.value.clone(),
        range,
        quoting,
        in_flow: s.in_flow,
        line: s.line,
        column: s.column,
    })
}

/// Length in bytes of the quoted scalar at the start of `rest`, quotes included; refused
/// when it spans lines or (double-quoted) holds escapes.
fn quoted_len(rest: &str, q: char, pointer: &str, s: &Scalar) -> Result<usize, ManifestError> {
    let bad = |why: &str| unsupported(s.line, pointer, why.to_owned());
    if !rest.starts_with(q) {
        return Err(bad("the quoted image does not start where the parser says"));
    }
    let mut it = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '\n' | '\r' => return Err(bad("a quoted image that spans lines is not supported")),
            '\\' if q == '"' => {
                return Err(bad(
                    "escape sequences in a double-quoted image are not supported",
                ))
            }
            c if c == q => {
                if q == '\'' && it.peek().map(|(_, c)| *c) == Some('\'') {
                    it.next();
                    continue;
                }
                return Ok(i + 1);
            }
            _ => {}
        }
    }
    Err(bad("unterminated quoted image"))
}

/// Replace the file at `path` (following symlinks) with `bytes`: a temp file in the same
/// directory with the file's permissions, fsync, rename over it, fsync the directory. On
/// error the file is untouched and the temp file removed.
pub fn write_in_place(path: &Path, bytes: &[u8]) -> Result<(), ManifestError> {
    use std::io::Write;
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| ManifestError::Io {
            action,
            path: p,
            source,
        }
    };
    let real = std::fs::canonicalize(path).map_err(io("resolve", path))?;
    let perms = std::fs::metadata(&real)
        .map_err(io("stat", &real))?
        .permissions();
    let dir = real.parent().unwrap_or(Path::new("/"));
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rnd = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut rnd);
    let tmp = dir.join(format!(".{name}.vouch-{}", hex::encode(rnd)));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io("create a temp file for", &real))?;
        f.set_permissions(perms)
            .map_err(io("set permissions on", &tmp))?;
        f.write_all(bytes).map_err(io("write", &real))?;
        f.sync_all().map_err(io("sync", &real))?;
        drop(f);
        std::fs::rename(&tmp, &real).map_err(io("rename into place", &real))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(text: &str) -> Vec<(String, String, Quoting)> {
        find_images(text)
            .unwrap()
            .into_iter()
            .map(|o| {
                assert_eq!(
                    render(&o.image, o.quoting, o.in_flow).as_deref(),
                    Some(&text[o.range.clone()])
                );
                (o.pointer, o.image, o.quoting)
            })
            .collect()
    }

    fn refused(text: &str) -> String {
        match find_images(text) {
            Err(e @ ManifestError::Unsupported { .. }) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_workload_kind_at_its_pod_spec_path() {
        let text = "\
kind: Pod
spec:
  containers: [{name: a, image: p:1}]
  initContainers: [{name: b, image: p:2}]
  ephemeralContainers: [{name: c, image: p:3}]
---
kind: Deployment
spec: {template: {spec: {containers: [{image: d:1}]}}}
---
kind: CronJob
spec: {jobTemplate: {spec: {template: {spec: {containers: [{image: c:1}]}}}}}
---
kind: List
items:
- kind: Job
  metadata: {name: j}
  spec: {template: {spec: {containers: [{image: j:1}]}}}
- kind: DaemonSet
  spec: {template: {spec: {initContainers: [{image: ds:1}]}}}
";
        let got = images(text);
        let ptrs: Vec<(&str, &str)> = got
            .iter()
            .map(|(p, i, _)| (p.as_str(), i.as_str()))
            .collect();
        assert_eq!(
            ptrs,
            [
                ("/spec/containers/0/image", "p:1"),
                ("/spec/initContainers/0/image", "p:2"),
                ("/spec/ephemeralContainers/0/image", "p:3"),
                ("/spec/template/spec/containers/0/image", "d:1"),
                (
                    "/spec/jobTemplate/spec/template/spec/containers/0/image",
                    "c:1"
                ),
                ("/items/0/spec/template/spec/containers/0/image", "j:1"),
                ("/items/1/spec/template/spec/initContainers/0/image", "ds:1"),
            ]
        );
        let all = find_images(text).unwrap();
        assert_eq!(all[3].document, 1);
        assert_eq!(all[5].object.as_deref(), Some("Job/j"));
        assert_eq!(all[6].object.as_deref(), Some("DaemonSet"));
    }

    #[test]
    fn quoted_images_and_comments_after_values_splice_exactly() {
        let text = "# Source: chart/templates/x.yaml\nspec:\n  containers:\n  - name: a\n    image: \"reg/x:1\"   # the app\n  - image: 'reg/y:2' # sidecar\n    name: b\n  - name: é\n    image: reg/ü-x:4 # c\n\n";
        let occ = find_images(text).unwrap();
        assert_eq!(
            occ.iter()
                .map(|o| (o.image.as_str(), o.quoting, o.line))
                .collect::<Vec<_>>(),
            [
                ("reg/x:1", Quoting::Double, 5),
                ("reg/y:2", Quoting::Single, 6),
                ("reg/ü-x:4", Quoting::Plain, 9)
            ]
        );
        let edits: Vec<(&ImageOccurrence, &str)> = occ
            .iter()
            .zip([
                "reg/x:1@sha256:aa",
                "reg/y:2@sha256:bb",
                "reg/ü-x:4@sha256:cc",
            ])
            .collect();
        let out = splice(text, &edits).unwrap();
        assert_eq!(out, "# Source: chart/templates/x.yaml\nspec:\n  containers:\n  - name: a\n    image: \"reg/x:1@sha256:aa\"   # the app\n  - image: 'reg/y:2@sha256:bb' # sidecar\n    name: b\n  - name: é\n    image: reg/ü-x:4@sha256:cc # c\n\n");
        // Nothing to change: the same bytes.
        assert_eq!(splice(text, &[]).unwrap(), text);
    }

    #[test]
    fn flow_style_containers_are_found_and_rewritten_in_place() {
        let text = "spec:\n  containers: [{name: a, image: x:1}, {image: \"y:2\", name: b}]\n";
        let occ = find_images(text).unwrap();
        assert!(occ.iter().all(|o| o.in_flow));
        let edits = [(&occ[0], "x:1@sha256:11"), (&occ[1], "y:2@sha256:22")];
        assert_eq!(
            splice(text, &edits).unwrap(),
            "spec:\n  containers: [{name: a, image: x:1@sha256:11}, {image: \"y:2@sha256:22\", name: b}]\n"
        );
        // A plain flow scalar cannot take a flow indicator.
        assert!(matches!(
            splice(text, &[(&occ[0], "x,1")]),
            Err(ManifestError::CannotRender { .. })
        ));
    }

    #[test]
    fn anchors_aliases_tags_merge_keys_and_duplicates_are_refused() {
        let e = refused("spec:\n  containers:\n  - name: a\n    image: &img x:1\n");
        assert!(
            e.contains("line 4") && e.contains("/spec/containers/0/image") && e.contains("anchor"),
            "{e}"
        );
        let e = refused("x: &i x:1\nspec:\n  containers:\n  - image: *i\n");
        assert!(e.contains("alias"), "{e}");
        let e = refused("spec:\n  containers:\n  - image: !!str x:1\n");
        assert!(e.contains("tag"), "{e}");
        let e = refused("b: &b {image: x:1}\nspec:\n  containers:\n  - <<: *b\n    name: a\n");
        assert!(e.contains("merge key"), "{e}");
        let e = refused("c: &c [{image: x:1}]\nspec:\n  containers: *c\n");
        assert!(e.contains("container list is an alias"), "{e}");
        let e = refused("spec:\n  containers:\n  - image: x:1\n    image: evil:1\n");
        assert!(e.contains("twice"), "{e}");
        let e = refused("spec:\n  containers:\n  - image: |\n      x:1\n");
        assert!(e.contains("block scalar"), "{e}");
        let e = refused("spec:\n  containers:\n  - image: \"x\\u003a1\"\n");
        assert!(e.contains("escape"), "{e}");
        let e = refused("spec:\n  containers:\n  - image: x:1\n      y\n");
        assert!(e.contains("one line"), "{e}");
    }

    #[test]
    fn images_outside_container_lists_are_not_images() {
        let text = "image: a:1\nspec:\n  image: b:1\n  template:\n    containers: null\n  values:\n    image: {repository: c, tag: '1'}\n";
        assert!(find_images(text).unwrap().is_empty());
        // Non-string image in a container: bad input, named.
        let e = find_images("spec:\n  containers:\n  - image: {repository: c}\n").unwrap_err();
        assert!(matches!(e, ManifestError::BadImage { line: 3, .. }), "{e}");
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let e = find_images("a: 1\nspec:\n  containers: [\n").unwrap_err();
        assert!(matches!(e, ManifestError::Parse { .. }), "{e}");
        let e = find_images("a: b: c\n").unwrap_err();
        assert!(e.to_string().starts_with("line 1"), "{e}");
    }

    #[test]
    fn empty_documents_and_helm_separators_are_fine() {
        let text = "---\n# Source: c/templates/a.yaml\n---\nkind: Pod\nspec:\n  containers:\n  - image: a:1\n...\n---\n";
        let occ = find_images(text).unwrap();
        assert_eq!(occ.len(), 1);
        assert_eq!(occ[0].document, 1);
        assert_eq!(&text[occ[0].range.clone()], "a:1");
    }

    #[test]
    fn splice_refuses_edits_that_do_not_match_the_text() {
        let text = "spec:\n  containers:\n  - image: a:1\n";
        let mut occ = find_images(text).unwrap().remove(0);
        occ.range = occ.range.start - 1..occ.range.end;
        assert!(matches!(
            splice(text, &[(&occ, "a:1@sha256:00")]),
            Err(ManifestError::BadEdit { .. })
        ));
    }

    #[test]
    fn crlf_line_endings_and_a_byte_order_mark_keep_exact_ranges() {
        let text = "\u{feff}kind: Pod\r\nspec:\r\n  containers:\r\n  - name: a\r\n    image: reg/x:1\r\n  - image: \"reg/y:2\" # c\r\n";
        let occ = find_images(text).unwrap();
        assert_eq!(occ.len(), 2);
        assert_eq!(&text[occ[0].range.clone()], "reg/x:1");
        assert_eq!(&text[occ[1].range.clone()], "\"reg/y:2\"");
        let out = splice(
            text,
            &[
                (&occ[0], "reg/x:1@sha256:00"),
                (&occ[1], "reg/y:2@sha256:11"),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            text.replace("reg/x:1", "reg/x:1@sha256:00")
                .replace("reg/y:2", "reg/y:2@sha256:11")
        );
    }
}
