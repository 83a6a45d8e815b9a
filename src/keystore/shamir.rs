//! Shamir secret sharing over GF(2^8), byte by byte (used by split key backups).
//!
//! The field is the AES field: polynomials over GF(2) modulo x^8 + x^4 + x^3 + x + 1
//! (0x11b). A secret of `len` bytes is split into `n` shares of `len` bytes each; share
//! `i` (1 ≤ i ≤ n) holds, for every secret byte `s`, the value at `x = i` of a polynomial
//! of degree `k − 1` whose constant term is `s` and whose other `k − 1` coefficients are
//! uniformly random bytes (fresh for every secret byte, from the caller's CSPRNG). Any `k`
//! shares give the polynomial back by Lagrange interpolation at `x = 0`; any `k − 1`
//! shares are consistent with every possible secret, each with the same number of
//! polynomials, so they reveal nothing about it.
//!
//! Why not a crate: `sharks` carries RUSTSEC-2024-0398 and has had no release since 2021;
//! `vsss-rs` is a large generic library that needed a fix for biased GF(256) coefficients.
//! This module is a page of arithmetic with the tests next to it: every product checked
//! against independent log/exp tables, the FIPS-197 worked examples, and shares
//! cross-checked with a separate Python implementation (see `tests`).
//!
//! Side channels: multiplication is branch-free shift-and-add and inversion is a fixed
//! exponentiation (a^254), so no table lookup or branch depends on secret bytes.

use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

/// One share: its x coordinate (1..=255) and one y byte per secret byte.
#[derive(Clone)]
pub struct Share {
    pub index: u8,
    pub value: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Share({}, [{} bytes])", self.index, self.value.len())
    }
}

/// Why a split or a combination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    #[error("a threshold of {threshold} with {shares} shares is not possible: need 2 ≤ threshold ≤ shares ≤ 255")]
    BadParameters { threshold: usize, shares: usize },
    #[error("the secret is empty")]
    EmptySecret,
    #[error("no shares given")]
    NoShares,
    #[error("share index 0 is not allowed (it would be the secret itself)")]
    ZeroIndex,
    #[error("share {0} is given twice")]
    DuplicateIndex(u8),
    #[error("shares have different lengths ({0} and {1} bytes)")]
    LengthMismatch(usize, usize),
}

/// Multiply in GF(2^8) modulo 0x11b, without secret-dependent branches or lookups.
pub(crate) fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        // Add `a` when the low bit of `b` is set.
        product ^= a & 0u8.wrapping_sub(b & 1);
        // a *= x, reducing by 0x11b when the top bit falls off.
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

/// Multiplicative inverse: a^254 (a^255 = 1 for a ≠ 0). `inv(0)` is 0.
pub(crate) fn inv(a: u8) -> u8 {
    // 254 = 0b1111_1110: square-and-multiply with a fixed sequence of operations.
    let a2 = mul(a, a);
    let a3 = mul(a2, a);
    let a6 = mul(a3, a3);
    let a7 = mul(a6, a);
    let a14 = mul(a7, a7);
    let a15 = mul(a14, a);
    let a30 = mul(a15, a15);
    let a31 = mul(a30, a);
    let a62 = mul(a31, a31);
    let a63 = mul(a62, a);
    let a126 = mul(a63, a63);
    let a127 = mul(a126, a);
    mul(a127, a127)
}

/// The value at `x` of the polynomial with these coefficients (constant term first).
pub(crate) fn eval(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0u8, |acc, &c| mul(acc, x) ^ c)
}

/// Split `secret` into `shares` shares, any `threshold` of which restore it.
pub fn split(
    secret: &[u8],
    threshold: usize,
    shares: usize,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Vec<Share>, ShamirError> {
    if !(2..=255).contains(&threshold) || !(threshold..=255).contains(&shares) {
        return Err(ShamirError::BadParameters { threshold, shares });
    }
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }
    let mut out: Vec<Share> = (1..=shares as u8)
        .map(|index| Share {
            index,
            value: Zeroizing::new(Vec::with_capacity(secret.len())),
        })
        .collect();
    let mut coefficients = Zeroizing::new(vec![0u8; threshold]);
    for &byte in secret {
        coefficients[0] = byte;
        rng.fill_bytes(&mut coefficients[1..]);
        for share in &mut out {
            share.value.push(eval(&coefficients, share.index));
        }
    }
    coefficients.zeroize();
    Ok(out)
}

/// The secret the given shares interpolate to (the polynomial's value at 0).
///
/// With at least the threshold number of genuine shares this is the secret; with fewer,
/// or with a damaged share, it is some other value: this function cannot tell, so callers
/// must check the result (split backups use an authenticated cipher for that).
pub fn combine(shares: &[Share]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let first = shares.first().ok_or(ShamirError::NoShares)?;
    let len = first.value.len();
    for (i, s) in shares.iter().enumerate() {
        if s.index == 0 {
            return Err(ShamirError::ZeroIndex);
        }
        if shares[..i].iter().any(|t| t.index == s.index) {
            return Err(ShamirError::DuplicateIndex(s.index));
        }
        if s.value.len() != len {
            return Err(ShamirError::LengthMismatch(len, s.value.len()));
        }
    }
    // Lagrange basis at 0: l_i = Π_{j≠i} x_j / (x_j − x_i); subtraction is XOR.
    let basis: Vec<u8> = shares
        .iter()
        .map(|si| {
            shares
                .iter()
                .filter(|sj| sj.index != si.index)
                .fold(1u8, |acc, sj| {
                    mul(acc, mul(sj.index, inv(sj.index ^ si.index)))
                })
        })
        .collect();
    let mut secret = Zeroizing::new(vec![0u8; len]);
    for (s, l) in shares.iter().zip(&basis) {
        for (out, &y) in secret.iter_mut().zip(s.value.iter()) {
            *out ^= mul(*l, y);
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    /// Independent arithmetic: log/exp tables over the generator 0x03.
    fn tables() -> ([u8; 256], [u8; 256]) {
        let mut exp = [0u8; 256];
        let mut log = [0u8; 256];
        let mut x = 1u8;
        for (i, e) in exp.iter_mut().enumerate().take(255) {
            *e = x;
            log[x as usize] = i as u8;
            // x *= 3 = x*2 ^ x, the *2 reduced by 0x11b.
            x ^= (x << 1) ^ if x & 0x80 != 0 { 0x1b } else { 0 };
        }
        exp[255] = exp[0];
        (exp, log)
    }

    fn table_mul(a: u8, b: u8) -> u8 {
        let (exp, log) = tables();
        if a == 0 || b == 0 {
            0
        } else {
            exp[(log[a as usize] as usize + log[b as usize] as usize) % 255]
        }
    }

    #[test]
    fn multiplication_matches_log_exp_tables_for_every_pair() {
        let (exp, log) = tables();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let want = if a == 0 || b == 0 {
                    0
                } else {
                    exp[(log[a as usize] as usize + log[b as usize] as usize) % 255]
                };
                assert_eq!(mul(a, b), want, "{a:#04x} * {b:#04x}");
            }
        }
        assert_eq!(table_mul(0x57, 0x83), 0xc1);
    }

    #[test]
    fn fips_197_examples() {
        // FIPS-197 §4.2: {57} • {83} = {c1}; §4.2.1: {57} • {13} = {fe}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
        // The S-box is built from inverses: {53}^-1 = {ca} (FIPS-197 §5.1.1 example input).
        assert_eq!(inv(0x53), 0xca);
        assert_eq!(inv(0), 0);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1, "{a:#04x}");
        }
    }

    #[test]
    fn every_threshold_subset_restores_and_smaller_ones_do_not() {
        let secret = b"thirty-two bytes of backup key!!";
        for (k, n) in [(2usize, 2usize), (2, 3), (3, 5), (4, 7), (5, 5)] {
            let shares = split(secret, k, n, &mut OsRng).unwrap();
            assert_eq!(shares.len(), n);
            for mask in 1u32..(1 << n) {
                let subset: Vec<Share> = (0..n)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| shares[i].clone())
                    .collect();
                let got = combine(&subset).unwrap();
                if subset.len() >= k {
                    assert_eq!(&got[..], &secret[..], "k={k} n={n} mask={mask:b}");
                } else {
                    assert_ne!(&got[..], &secret[..], "k={k} n={n} mask={mask:b}");
                }
            }
        }
    }

    #[test]
    fn fewer_than_threshold_shares_are_uniform_whatever_the_secret() {
        // k = 3: for any fixed secret byte, the pair of values at x = 1 and x = 2 over all
        // 65536 coefficient choices takes every pair exactly once, so two shares say
        // nothing about the secret.
        for secret in [0u8, 1, 0x80, 0xff] {
            let mut seen = vec![0u16; 65536];
            for a1 in 0..=255u8 {
                for a2 in 0..=255u8 {
                    let c = [secret, a1, a2];
                    let pair = (eval(&c, 1) as usize) << 8 | eval(&c, 2) as usize;
                    seen[pair] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "secret {secret}");
        }
    }

    #[test]
    fn bad_parameters_and_share_sets_are_refused() {
        let mut r = OsRng;
        assert!(matches!(
            split(b"s", 1, 3, &mut r),
            Err(ShamirError::BadParameters { .. })
        ));
        assert!(matches!(
            split(b"s", 4, 3, &mut r),
            Err(ShamirError::BadParameters { .. })
        ));
        assert!(matches!(
            split(b"s", 2, 256, &mut r),
            Err(ShamirError::BadParameters { .. })
        ));
        assert_eq!(
            split(b"", 2, 3, &mut r).unwrap_err(),
            ShamirError::EmptySecret
        );
        assert_eq!(split(b"s", 255, 255, &mut r).unwrap().len(), 255);

        let shares = split(b"secret", 2, 3, &mut r).unwrap();
        assert_eq!(combine(&[]).unwrap_err(), ShamirError::NoShares);
        let dup = [shares[0].clone(), shares[0].clone()];
        assert_eq!(combine(&dup).unwrap_err(), ShamirError::DuplicateIndex(1));
        let mut zero = shares[1].clone();
        zero.index = 0;
        assert_eq!(
            combine(&[shares[0].clone(), zero]).unwrap_err(),
            ShamirError::ZeroIndex
        );
        let mut short = shares[1].clone();
        short.value.pop();
        assert_eq!(
            combine(&[shares[0].clone(), short]).unwrap_err(),
            ShamirError::LengthMismatch(6, 5)
        );
    }

    /// Fixed vectors: shares of "vouch" (2-of-3 and 3-of-5) made with the coefficients
    /// below, computed by the Python implementation in `python_cross_check` (also kept
    /// here so the check runs without Python).
    #[test]
    fn known_vectors() {
        // Polynomial per byte: secret byte + c1·x + c2·x² with c1 = 0x1f + i, c2 = 0xa0 ^ i.
        let secret = b"vouch";
        let coeffs = |i: usize, k: usize| -> Vec<u8> {
            let mut c = vec![secret[i], 0x1f + i as u8, 0xa0 ^ i as u8];
            c.truncate(k);
            c
        };
        let shares = |k: usize, n: u8| -> Vec<Vec<u8>> {
            (1..=n)
                .map(|x| (0..secret.len()).map(|i| eval(&coeffs(i, k), x)).collect())
                .collect()
        };
        assert_eq!(
            shares(2, 3)
                .iter()
                .map(hex::encode)
                .collect::<Vec<String>>(),
            KNOWN_2_OF_3
        );
        assert_eq!(
            shares(3, 5)
                .iter()
                .map(hex::encode)
                .collect::<Vec<String>>(),
            KNOWN_3_OF_5
        );
        let from_hex = |i: u8, h: &str| Share {
            index: i,
            value: Zeroizing::new(hex::decode(h).unwrap()),
        };
        let got = combine(&[
            from_hex(2, KNOWN_3_OF_5[1]),
            from_hex(5, KNOWN_3_OF_5[4]),
            from_hex(3, KNOWN_3_OF_5[2]),
        ])
        .unwrap();
        assert_eq!(&got[..], secret);
        let got = combine(&[from_hex(3, KNOWN_2_OF_3[2]), from_hex(1, KNOWN_2_OF_3[0])]).unwrap();
        assert_eq!(&got[..], secret);
    }

    const KNOWN_2_OF_3: [&str; 3] = ["694f54414b", "482f37272e", "570f16050d"];
    const KNOWN_3_OF_5: [&str; 5] = [
        "c9eef6e2ef",
        "fe9d899d88",
        "411c0a1c0f",
        "e4113f354a",
        "5b90bcb4cd",
    ];

    const PYTHON: &str = r#"
import json, sys
def mul(a, b):
    p = 0
    while b:
        if b & 1:
            p ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11b
        b >>= 1
    return p
def inv(a):
    return next(b for b in range(1, 256) if mul(a, b) == 1)
def ev(cs, x):
    y, xp = 0, 1
    for c in cs:
        y ^= mul(c, xp)
        xp = mul(xp, x)
    return y
def combine(points):
    out = []
    for i in range(len(points[0][1])):
        s = 0
        for xi, yi in points:
            l = 1
            for xj, _ in points:
                if xj != xi:
                    l = mul(l, mul(xj, inv(xj ^ xi)))
            s ^= mul(l, yi[i])
        out.append(s)
    return bytes(out)
req = json.load(sys.stdin)
secret = b"vouch"
vec = {}
for k, n in ((2, 3), (3, 5)):
    cs = [[secret[i], 0x1f + i, 0xa0 ^ i][:k] for i in range(len(secret))]
    vec["%d-of-%d" % (k, n)] = [bytes(ev(cs[i], x) for i in range(len(secret))).hex() for x in range(1, n + 1)]
combined = [combine([(p[0], bytes.fromhex(p[1])) for p in subset]).hex() for subset in req["subsets"]]
print(json.dumps({"vectors": vec, "combined": combined}))
"#;

    /// Cross-check against an independent, deliberately naive Python implementation:
    /// the fixed vectors, and random shares made here combined there. Skipped (with a
    /// note) where python3 is not installed.
    #[test]
    fn python_cross_check() {
        use std::io::Write as _;
        let secret: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let shares = split(&secret, 3, 5, &mut OsRng).unwrap();
        let subsets: Vec<Vec<(u8, String)>> = [[0usize, 1, 2], [4, 2, 0], [1, 3, 4]]
            .iter()
            .map(|s| {
                s.iter()
                    .map(|&i| (shares[i].index, hex::encode(&*shares[i].value)))
                    .collect()
            })
            .collect();
        let input = serde_json::json!({ "subsets": subsets }).to_string();
        let child = std::process::Command::new("python3")
            .arg("-c")
            .arg(PYTHON)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("python3 not available: cross-check skipped");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for c in v["combined"].as_array().unwrap() {
            assert_eq!(c.as_str().unwrap(), hex::encode(&secret));
        }
        assert_eq!(v["vectors"]["2-of-3"], serde_json::json!(KNOWN_2_OF_3));
        assert_eq!(v["vectors"]["3-of-5"], serde_json::json!(KNOWN_3_OF_5));
    }
}
