//! Any text as Kubernetes manifests: the images found (each at a place that holds
//! exactly that text), or a refusal; splicing the images back in unchanged gives the
//! text back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::manifests::{find_images, splice};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(images) = find_images(text) else {
        return;
    };
    let same: Vec<_> = images.iter().map(|i| (i, i.image.as_str())).collect();
    if let Ok(back) = splice(text, &same) {
        assert_eq!(back, text, "splicing the same images changed the text");
    }
});
