//! The `expires` field: Go `time.Time` in JSON (protocol §3.2).
//!
//! Parsing accepts any RFC 3339 time. Writing uses Go's `RFC3339Nano` layout: nanoseconds
//! with trailing zeros removed (no fraction when zero), and `Z` for UTC or `±hh:mm`.
//! A parsed value keeps its original text, so re-serializing someone else's metadata
//! reproduces it exactly.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::TufError;

/// An expiry time together with its wire text.
#[derive(Clone, PartialEq, Eq)]
pub struct Expires {
    time: OffsetDateTime,
    text: String,
}

impl Expires {
    /// An expiry at `time`, written the way Go writes it. Go refuses to write years
    /// outside 0..=9999, and so do we.
    pub fn new(time: OffsetDateTime) -> Result<Self, TufError> {
        if !(0..=9999).contains(&time.year()) {
            return Err(TufError::Malformed(format!(
                "expiry year {} is outside 0..=9999",
                time.year()
            )));
        }
        Ok(Expires {
            time,
            text: go_rfc3339_nano(time),
        })
    }

    /// Parse an RFC 3339 time, keeping `text` as is.
    pub fn parse(text: &str) -> Result<Self, TufError> {
        let time = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| TufError::Malformed(format!("invalid expires time {text:?}: {e}")))?;
        Ok(Expires {
            time,
            text: text.to_owned(),
        })
    }

    pub fn time(&self) -> OffsetDateTime {
        self.time
    }

    /// The text written in metadata.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the expiry lies strictly before `now` (notary's `IsExpired`).
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.time < now
    }
}

impl fmt::Display for Expires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Expires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expires({})", self.text)
    }
}

impl Serialize for Expires {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Expires {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Expires::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Go's `time.RFC3339Nano` layout: `2006-01-02T15:04:05.999999999Z07:00`.
fn go_rfc3339_nano(t: OffsetDateTime) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    let offset = t.offset();
    if offset.is_utc() {
        out.push('Z');
    } else {
        // Go writes hours and minutes only; offset seconds are dropped.
        let total_minutes = offset.whole_seconds() / 60;
        let sign = if offset.whole_seconds() < 0 { '-' } else { '+' };
        let m = total_minutes.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn writes_go_format() {
        let cases = [
            (
                datetime!(2029-11-29 12:57:45.131095035 UTC),
                "2029-11-29T12:57:45.131095035Z",
            ),
            (
                datetime!(2029-11-29 12:58:01.65378828 UTC),
                "2029-11-29T12:58:01.65378828Z",
            ),
            (datetime!(2030-01-02 03:04:05 UTC), "2030-01-02T03:04:05Z"),
            (
                datetime!(2030-01-02 03:04:05.5 UTC),
                "2030-01-02T03:04:05.5Z",
            ),
            (
                datetime!(2116-07-03 18:08:08.423870533 -05:00),
                "2116-07-03T18:08:08.423870533-05:00",
            ),
            (
                datetime!(2020-02-29 23:59:59.000000001 +05:30),
                "2020-02-29T23:59:59.000000001+05:30",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(Expires::new(t).unwrap().as_str(), want);
        }
    }

    #[test]
    fn parse_keeps_original_text() {
        for text in [
            "2116-01-12T00:58:43.527711489Z",
            "2116-07-03T18:08:08.41836542-05:00",
            "2030-01-02T03:04:05.100Z",
            "2030-01-02T03:04:05+00:00",
        ] {
            let e = Expires::parse(text).unwrap();
            assert_eq!(e.as_str(), text);
            assert_eq!(serde_json::to_string(&e).unwrap(), format!("\"{text}\""));
        }
        let e = Expires::parse("2116-07-03T18:08:08.41836542-05:00").unwrap();
        assert_eq!(e.time(), datetime!(2116-07-03 23:08:08.41836542 UTC));
    }

    #[test]
    fn rejects_garbage_and_out_of_range_years() {
        assert!(Expires::parse("2030-01-02").is_err());
        assert!(Expires::parse("tomorrow").is_err());
        assert!(serde_json::from_str::<Expires>("12").is_err());
        assert!(Expires::new(datetime!(-0001-12-31 23:59:59 UTC)).is_err());
        assert!(Expires::new(datetime!(9999-12-31 23:59:59 UTC)).is_ok());
    }

    #[test]
    fn expiry_is_strictly_before_now() {
        let e = Expires::new(datetime!(2030-01-01 00:00:00 UTC)).unwrap();
        assert!(!e.is_expired_at(datetime!(2030-01-01 00:00:00 UTC)));
        assert!(e.is_expired_at(datetime!(2030-01-01 00:00:00.000000001 UTC)));
        // The same instant in another zone is not after the expiry either.
        assert!(!e.is_expired_at(datetime!(2029-12-31 19:00:00 -05:00)));
        assert!(e.is_expired_at(datetime!(2029-12-31 19:00:01 -05:00)));
    }
}
