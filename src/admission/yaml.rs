//! A YAML document read into a JSON value (the policy file; JSON is valid YAML).
//!
//! Only what a policy needs: mappings with string keys, sequences, and scalars resolved as
//! YAML 1.2's core schema does (`null`/`~`, `true`/`false`, integers, floats; anything
//! quoted is a string). Anchors, aliases, tags and merge keys are refused: a policy that
//! reads one way to a person and another to the parser is a hazard.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Deeper nesting is refused (no policy needs it; it bounds recursion).
const MAX_DEPTH: usize = 64;

/// Why a YAML text is not a policy document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct YamlError {
    pub line: usize,
    pub reason: String,
}

/// The single document of `text` as a JSON value (an empty text is `null`).
pub fn to_json(text: &str) -> Result<Value, YamlError> {
    let mut p = Parser::new_from_str(text);
    let mut docs = Vec::new();
    loop {
        let (ev, span) = next(&mut p)?;
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                let (ev, span) = next(&mut p)?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(Value::Null);
                    continue;
                }
                docs.push(node(&mut p, ev, span, 0)?);
            }
            other => {
                return Err(YamlError {
                    line: span.start.line(),
                    reason: format!("unexpected {other:?}"),
                })
            }
        }
    }
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.pop().unwrap_or(Value::Null)),
        n => Err(YamlError {
            line: 1,
            reason: format!("{n} documents; a policy file holds one"),
        }),
    }
}

fn next<'a>(
    p: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
) -> Result<(Event<'a>, Span), YamlError> {
    match p.next() {
        Some(Ok(x)) => Ok(x),
        Some(Err(e)) => Err(YamlError {
            line: e.marker().line(),
            reason: format!("not valid YAML: {}", e.info()),
        }),
        None => Ok((Event::StreamEnd, Span::default())),
    }
}

fn node<'a>(
    p: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
    ev: Event<'a>,
    span: Span,
    depth: usize,
) -> Result<Value, YamlError> {
    let line = span.start.line();
    let err = |reason: &str| YamlError {
        line,
        reason: reason.to_owned(),
    };
    if depth > MAX_DEPTH {
        return Err(err(&format!("nested deeper than {MAX_DEPTH} levels")));
    }
    match ev {
        Event::Scalar(value, style, anchor, tag) => {
            if anchor != 0 || tag.is_some() {
                return Err(err("anchors and tags are not allowed in a policy file"));
            }
            Ok(scalar(&value, style))
        }
        Event::Alias(_) => Err(err("aliases are not allowed in a policy file")),
        Event::SequenceStart(anchor, tag) => {
            if anchor != 0 || tag.is_some() {
                return Err(err("anchors and tags are not allowed in a policy file"));
            }
            let mut items = Vec::new();
            loop {
                let (ev, sp) = next(p)?;
                if matches!(ev, Event::SequenceEnd) {
                    break;
                }
                items.push(node(p, ev, sp, depth + 1)?);
            }
            Ok(Value::Array(items))
        }
        Event::MappingStart(anchor, tag) => {
            if anchor != 0 || tag.is_some() {
                return Err(err("anchors and tags are not allowed in a policy file"));
            }
            let mut map = Map::new();
            loop {
                let (ev, sp) = next(p)?;
                if matches!(ev, Event::MappingEnd) {
                    break;
                }
                let key_line = sp.start.line();
                let key = match node(p, ev, sp, depth + 1)? {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(YamlError {
                            line: key_line,
                            reason: "a mapping key must be a string".into(),
                        })
                    }
                };
                if key == "<<" {
                    return Err(YamlError {
                        line: key_line,
                        reason: "merge keys (<<) are not allowed in a policy file".into(),
                    });
                }
                let (ev, sp) = next(p)?;
                let value = node(p, ev, sp, depth + 1)?;
                if map.insert(key.clone(), value).is_some() {
                    return Err(YamlError {
                        line: key_line,
                        reason: format!("the key {key:?} is given twice"),
                    });
                }
            }
            Ok(Value::Object(map))
        }
        other => Err(err(&format!("unexpected {other:?}"))),
    }
}

/// A scalar as the YAML 1.2 core schema resolves it.
fn scalar(value: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(value.to_owned());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = value.parse::<i64>() {
        return Value::Number(i.into());
    }
    if value.contains(['.', 'e', 'E'])
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.')
    {
        if let Some(n) = value.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_and_json() {
        let v = to_json("a: 1\nb: [x, 'y', true, ~]\nc: {d: 2.5}\n# comment\ne: \"1\"\n").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": ["x", "y", true, null], "c": {"d": 2.5}, "e": "1"})
        );
        let v = to_json(r#"{"default": "deny", "rules": []}"#).unwrap();
        assert_eq!(v, serde_json::json!({"default": "deny", "rules": []}));
    }

    #[test]
    fn refuses_what_could_mislead() {
        for (text, want) in [
            ("a: &x 1\nb: *x\n", "anchors"),
            ("a: 1\na: 2\n", "given twice"),
            ("a: !!str 1\n", "tags"),
            ("---\na: 1\n---\nb: 2\n", "2 documents"),
            ("a: [1\n", "not valid YAML"),
        ] {
            let e = to_json(text).unwrap_err();
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
    }
}
