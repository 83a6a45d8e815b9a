//! Property tests for the manifest scanner, which reads untrusted YAML: whatever the text —
//! a valid manifest with characters removed, inserted or replaced, or a random mix of YAML's
//! syntax characters — `find_images` returns images or an error and never panics, every
//! image's range is exactly its value as written, and splicing changes only those ranges.

use proptest::prelude::*;
use proptest::test_runner::Config;
use vouch::manifests::{find_images, splice, Quoting};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

const MANIFEST: &str = "# Source: demo/templates/app.yaml\n---\napiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n    - name: a\n      image: \"reg.example.com/app:1\"   # app\n    - {name: b, image: 'reg.example.com/b:2'}\n    initContainers: [{name: c, image: reg.example.com/c:3}]\n---\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - image: reg.example.com/ü:4 # é\n";

/// Checks what holds for any text `find_images` accepts.
fn check(text: &str) {
    let Ok(images) = find_images(text) else {
        return;
    };
    let mut end = 0;
    for o in &images {
        assert!(o.range.start >= end, "overlapping ranges");
        let raw = text.get(o.range.clone()).expect("range on char boundaries");
        let value = match o.quoting {
            Quoting::Plain => raw.to_owned(),
            Quoting::Single => raw[1..raw.len() - 1].replace("''", "'"),
            Quoting::Double => raw[1..raw.len() - 1].to_owned(),
        };
        assert_eq!(value, o.image, "{raw:?}");
        end = o.range.end;
    }
    // Splicing each image with itself gives the text back …
    let same: Vec<_> = images.iter().map(|o| (o, o.image.as_str())).collect();
    assert_eq!(splice(text, &same).unwrap(), text);
    // … and with a pinned value changes only the value.
    let pinned: Vec<String> = images
        .iter()
        .map(|o| format!("{}@sha256:{}", o.image, "a".repeat(64)))
        .collect();
    let edits: Vec<_> = images
        .iter()
        .zip(&pinned)
        .map(|(o, p)| (o, p.as_str()))
        .collect();
    if let Ok(out) = splice(text, &edits) {
        let again = find_images(&out).expect("the pinned text parses");
        assert_eq!(again.len(), images.len());
        for ((a, b), p) in images.iter().zip(&again).zip(&pinned) {
            assert_eq!(&b.image, p);
            assert_eq!(a.pointer, b.pointer);
            assert_eq!(a.quoting, b.quoting);
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let piece = prop::sample::select(vec![
        "\n",
        " ",
        "  ",
        "-",
        ": ",
        "#",
        "&a ",
        "*a",
        "!!str ",
        "'",
        "\"",
        "[",
        "]",
        "{",
        "}",
        ",",
        "---\n",
        "...\n",
        "|\n",
        ">\n",
        "\\",
        "\t",
        "<<: ",
        "image: x:1\n",
        "é",
        "\r\n",
    ]);
    prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), piece).prop_map(|(p, s)| Edit::Insert(p, s.to_owned())),
        (any::<usize>(), prop::char::any()).prop_map(|(p, c)| Edit::Replace(p, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match e {
            Edit::Delete(p, n) => {
                let p = p % len;
                let end = (p + n).min(chars.len());
                if p < end {
                    chars.drain(p..end);
                }
            }
            Edit::Insert(p, s) => {
                let p = p % (chars.len() + 1);
                chars.splice(p..p, s.chars());
            }
            Edit::Replace(p, c) => {
                if !chars.is_empty() {
                    let p = p % chars.len();
                    chars[p] = *c;
                }
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn the_manifest_itself_has_four_images() {
    assert_eq!(find_images(MANIFEST).unwrap().len(), 4);
    check(MANIFEST);
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn mutated_manifests_never_panic_and_ranges_are_exact(edits in prop::collection::vec(edit(), 1..6)) {
        check(&apply(MANIFEST, &edits));
    }

    #[test]
    fn random_yaml_syntax_never_panics(text in "([-:#&*!'\"\\[\\]{},|> \n]|image|containers|x:1|\\.\\.\\.|---){0,60}") {
        check(&text);
    }
}
