//! Any text as an image reference: parsed or refused; a parsed reference prints as text
//! that parses to the same reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::reference::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse(text) else {
        return;
    };
    let printed = r.to_string();
    let again = Reference::parse(&printed).expect("a printed reference parses");
    assert_eq!(again.to_string(), printed);
});
