//! Counters of the webhook, rendered as Prometheus text (exposition format 0.0.4).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::policy::SignatureFormat;
use super::Outcome;

/// Upper bounds of the latency histogram, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A review's overall verdict, for `vouch_admission_reviews_total{verdict=…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed, every image verified (or allowed by a rule).
    Allowed,
    /// Allowed although an image was not verified (warn mode, `on_error: allow`).
    Warned,
    Denied,
    /// Not an AdmissionReview vouch could read.
    Invalid,
}

const VERDICTS: [(Verdict, &str); 4] = [
    (Verdict::Allowed, "allowed"),
    (Verdict::Warned, "warned"),
    (Verdict::Denied, "denied"),
    (Verdict::Invalid, "invalid"),
];

/// Results of one image's check under a verify rule, for
/// `vouch_admission_image_checks_total{format=…,result=…}`.
const RESULTS: [&str; 3] = ["verified", "not_trusted", "unavailable"];

/// The signatures that verify images: notary, cosign, notation.
const VERIFIED_FORMATS: [SignatureFormat; 3] = [
    SignatureFormat::ALL[0],
    SignatureFormat::ALL[1],
    SignatureFormat::ALL[2],
];

fn format_idx(f: SignatureFormat) -> usize {
    SignatureFormat::ALL
        .iter()
        .position(|x| *x == f)
        .unwrap_or(0)
}

#[derive(Default)]
pub struct Metrics {
    /// Per rule format (SignatureFormat::ALL), per result (RESULTS).
    checks: [[AtomicU64; RESULTS.len()]; SignatureFormat::ALL.len()],
    /// Per signature that verified (SignatureFormat::ALL; `any` stays 0).
    verified: [AtomicU64; SignatureFormat::ALL.len()],
    reviews: [AtomicU64; 4],
    patched: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    notary_errors: AtomicU64,
    reloads: AtomicU64,
    reload_errors: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

fn idx(v: Verdict) -> usize {
    VERDICTS.iter().position(|(x, _)| *x == v).unwrap_or(0)
}

impl Metrics {
    pub fn review(&self, verdict: Verdict, took: Duration, patched: bool) {
        self.reviews[idx(verdict)].fetch_add(1, Ordering::Relaxed);
        if patched {
            self.patched.fetch_add(1, Ordering::Relaxed);
        }
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
    /// One image checked under a verify rule whose format is `format`.
    pub fn image_check(&self, format: SignatureFormat, outcome: &Outcome) {
        let result = match outcome {
            Outcome::Verified(v) => {
                self.verified[format_idx(v.format)].fetch_add(1, Ordering::Relaxed);
                0
            }
            Outcome::NotTrusted(_) => 1,
            Outcome::Unavailable(_) => 2,
        };
        self.checks[format_idx(format)][result].fetch_add(1, Ordering::Relaxed);
    }
    pub fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }
    pub fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }
    pub fn notary_error(&self) {
        self.notary_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub fn reload(&self, ok: bool) {
        if ok {
            self.reloads.fetch_add(1, Ordering::Relaxed);
        } else {
            self.reload_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub fn reviews(&self, verdict: Verdict) -> u64 {
        self.reviews[idx(verdict)].load(Ordering::Relaxed)
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP vouch_admission_reviews_total Admission reviews answered, by verdict."
        );
        let _ = writeln!(s, "# TYPE vouch_admission_reviews_total counter");
        for (v, name) in VERDICTS {
            let _ = writeln!(
                s,
                "vouch_admission_reviews_total{{verdict=\"{name}\"}} {}",
                g(&self.reviews[idx(v)])
            );
        }
        let name = "vouch_admission_image_checks_total";
        let _ = writeln!(
            s,
            "# HELP {name} Images checked under verify rules, by the rule's signature format and the result."
        );
        let _ = writeln!(s, "# TYPE {name} counter");
        for (fi, f) in SignatureFormat::ALL.iter().enumerate() {
            for (ri, r) in RESULTS.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{name}{{format=\"{f}\",result=\"{r}\"}} {}",
                    g(&self.checks[fi][ri])
                );
            }
        }
        let name = "vouch_admission_images_verified_total";
        let _ = writeln!(
            s,
            "# HELP {name} Images verified, by the signature that verified them (a rule with format any counts under the one that did)."
        );
        let _ = writeln!(s, "# TYPE {name} counter");
        for f in VERIFIED_FORMATS {
            let _ = writeln!(
                s,
                "{name}{{format=\"{f}\"}} {}",
                g(&self.verified[format_idx(f)])
            );
        }
        for (name, help, a) in [
            (
                "vouch_admission_patched_total",
                "Allowed reviews answered with a tag-to-digest patch.",
                &self.patched,
            ),
            (
                "vouch_admission_cache_hits_total",
                "Image verdicts answered from the in-memory cache.",
                &self.cache_hits,
            ),
            (
                "vouch_admission_cache_misses_total",
                "Image verdicts that read trust data.",
                &self.cache_misses,
            ),
            (
                "vouch_admission_notary_errors_total",
                "Image verdicts that failed because a notary server or registry could not be read.",
                &self.notary_errors,
            ),
            (
                "vouch_admission_reloads_total",
                "Policy, trust lock or certificate reloads.",
                &self.reloads,
            ),
            (
                "vouch_admission_reload_errors_total",
                "Reloads refused (the previous files stay in use).",
                &self.reload_errors,
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} counter");
            let _ = writeln!(s, "{name} {}", g(a));
        }
        let name = "vouch_admission_review_duration_seconds";
        let _ = writeln!(s, "# HELP {name} Time to answer a review.");
        let _ = writeln!(s, "# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(s, "{name}_bucket{{le=\"{b}\"}} {}", g(&self.buckets[i]));
        }
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {}", g(&self.count));
        let _ = writeln!(s, "{name}_sum {}", g(&self.sum_micros) as f64 / 1e6);
        let _ = writeln!(s, "{name}_count {}", g(&self.count));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.review(Verdict::Allowed, Duration::from_micros(800), true);
        m.review(Verdict::Denied, Duration::from_millis(30), false);
        m.cache_hit();
        let cosign = SignatureFormat::Oci(crate::oci::Format::Cosign);
        m.image_check(
            SignatureFormat::Any,
            &Outcome::Verified(Box::new(super::super::Verified {
                tag: Some("1.0".into()),
                digest: "sha256:ab".into(),
                pinned: false,
                format: cosign,
                role: "targets".into(),
            })),
        );
        m.image_check(cosign, &Outcome::NotTrusted("no".into()));
        let t = m.render();
        assert!(
            t.contains(
                "vouch_admission_image_checks_total{format=\"any\",result=\"verified\"} 1\n"
            ),
            "{t}"
        );
        assert!(t.contains(
            "vouch_admission_image_checks_total{format=\"cosign\",result=\"not_trusted\"} 1\n"
        ));
        assert!(t.contains(
            "vouch_admission_image_checks_total{format=\"notary\",result=\"verified\"} 0\n"
        ));
        assert!(t.contains("vouch_admission_images_verified_total{format=\"cosign\"} 1\n"));
        assert!(t.contains("vouch_admission_images_verified_total{format=\"notary\"} 0\n"));
        assert!(t.contains("vouch_admission_reviews_total{verdict=\"allowed\"} 1\n"));
        assert!(t.contains("vouch_admission_reviews_total{verdict=\"denied\"} 1\n"));
        assert!(t.contains("vouch_admission_review_duration_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(t.contains("vouch_admission_review_duration_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(t.contains("vouch_admission_review_duration_seconds_count 2\n"));
        assert!(t.contains("vouch_admission_cache_hits_total 1\n"));
    }
}
