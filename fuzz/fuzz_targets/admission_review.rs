//! Any body as an AdmissionReview: the request and its images, or a refusal; never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::admission::review::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = Request::parse(data) {
        let _ = req.images();
    }
});
