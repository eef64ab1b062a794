//! How many bits of randomness a secret can carry, for the "256-bit" claim: a generator's
//! alphabet sets the bits a character (hex 4, base64 6, printable text about 6.6, raw bytes 8),
//! and the parts a person would type — sequences, repeats, keyboard runs and dictionary words —
//! carry almost none. An estimate that errs towards fewer bits; it never quotes the value.

/// Only this much of a value is examined; a secret longer than this is long enough.
const MAX_EXAMINED: usize = 1024;
/// What one predictable run is worth, roughly the choice of which word or which run.
const BITS_PER_PATTERN: f64 = 4.0;
/// How rarely a generator may produce a run we count as predictable.
const CHANCE: f64 = 1e-6;

/// Common words and keyboard runs of hand-made secrets, matched case-insensitively.
const WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "admin",
    "change",
    "changeme",
    "default",
    "example",
    "infrasage",
    "token",
    "letmein",
    "welcome",
    "master",
    "login",
    "dragon",
    "monkey",
    "qwerty",
    "asdf",
    "zxcv",
    "test",
    "prod",
    "production",
    "staging",
    "super",
    "private",
    "please",
    "sample",
    "demo",
    "root",
    "user",
    "hello",
    "love",
    "summer",
    "winter",
    "spring",
    "autumn",
    "company",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Strength {
    pub bits: f64,
    pub alphabet: &'static str,
    pub bits_per_char: f64,
    /// Characters inside sequences, repeats or words, out of `examined`.
    pub predictable: usize,
    pub examined: usize,
    /// Which kinds of predictable run were found, for the finding.
    pub kinds: Vec<&'static str>,
}

pub fn estimate(raw: &[u8]) -> Strength {
    let v = &raw[..raw.len().min(MAX_EXAMINED)];
    let (alphabet, bits_per_char) = alphabet_of(v);
    let counted: Vec<u8> =
        if alphabet == "base64" { v.iter().copied().filter(|b| *b != b'=').collect() } else { v.to_vec() };
    let mut marked = vec![false; counted.len()];
    let mut kinds = Vec::new();
    let mut patterns = 0usize;
    // A run counts only when a generator would make one that long by chance almost never
    // (under one in a million values), so real random output loses nothing.
    let n = counted.len().max(1) as f64;
    let alphabet_size = bits_per_char.exp2();
    let shortest = |chance_per_char: f64, lead: f64, from: usize| {
        (from..64).find(|&l| lead * chance_per_char.powi(l as i32 - 1) < CHANCE).unwrap_or(64)
    };
    let sequence_min = shortest(2.0 / alphabet_size, n, 3);
    let same_min = shortest(1.0 / alphabet_size, n, 3);
    let repeat_min = shortest(1.0 / alphabet_size, n * n / alphabet_size, 4);
    for (kind, runs) in [
        ("sequences", sequence_runs(&counted, sequence_min)),
        ("repeats", repeat_runs(&counted, same_min, repeat_min)),
        (
            "dictionary words",
            word_runs(&counted, shortest(2.0 / alphabet_size, n * WORDS.len() as f64 * 2.0 / alphabet_size, 4)),
        ),
    ] {
        let mut found = false;
        for (start, end) in runs {
            if marked[start..end].iter().all(|m| *m) {
                continue;
            }
            marked[start..end].iter_mut().for_each(|m| *m = true);
            patterns += 1;
            found = true;
        }
        if found {
            kinds.push(kind);
        }
    }
    let predictable = marked.iter().filter(|m| **m).count();
    let bits = (counted.len() - predictable) as f64 * bits_per_char + patterns as f64 * BITS_PER_PATTERN;
    Strength { bits, alphabet, bits_per_char, predictable, examined: counted.len(), kinds }
}

fn alphabet_of(v: &[u8]) -> (&'static str, f64) {
    if !v.is_empty() && v.iter().all(u8::is_ascii_hexdigit) {
        ("hex", 4.0)
    } else if !v.is_empty()
        && v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
    {
        ("base64", 6.0)
    } else if v.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        ("printable text", 95f64.log2())
    } else {
        ("raw bytes", 8.0)
    }
}

/// Runs of at least `min` characters each one up (or each one down) from the last: `abcd`, `4321`.
fn sequence_runs(v: &[u8], min: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for step in [1i16, -1] {
        let mut start = 0;
        for i in 1..=v.len() {
            let continues =
                i < v.len() && i16::from(v[i].to_ascii_lowercase()) - i16::from(v[i - 1].to_ascii_lowercase()) == step;
            if !continues {
                if i - start >= min {
                    out.push((start, i));
                }
                start = i;
            }
        }
    }
    out
}

/// One character `same_min` or more times in a row, and any `span` characters seen earlier.
fn repeat_runs(v: &[u8], same_min: usize, span: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=v.len() {
        if i == v.len() || v[i] != v[start] {
            if i - start >= same_min {
                out.push((start, i));
            }
            start = i;
        }
    }
    let mut i = span;
    while i + span <= v.len() {
        let window = &v[i..i + span];
        if v[..i + span - 1].windows(span).take(i).any(|w| w == window) {
            let mut end = i + span;
            while end < v.len() && v[..end].windows(end - i + 1).take(i).any(|w| w == &v[i..=end]) {
                end += 1;
            }
            out.push((i, end));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn word_runs(v: &[u8], min_len: usize) -> Vec<(usize, usize)> {
    let lower = v.to_ascii_lowercase();
    let mut out = Vec::new();
    for w in WORDS.iter().filter(|w| w.len() >= min_len) {
        let w = w.as_bytes();
        let mut from = 0;
        while from + w.len() <= lower.len() {
            match lower[from..].windows(w.len()).position(|x| x == w) {
                Some(p) => {
                    out.push((from + p, from + p + w.len()));
                    from += p + w.len();
                }
                None => break,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_carry_what_their_alphabet_allows() {
        let hex32 = estimate(b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        assert_eq!(hex32.alphabet, "hex");
        assert!(hex32.bits >= 240.0, "{hex32:?}");
        let b64 = estimate(b"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=");
        assert_eq!(b64.alphabet, "base64");
        assert!(b64.bits >= 250.0, "{b64:?}");
        // 16 random bytes in hex are 32 characters of 4 bits: 128, whatever the length in bytes.
        let hex16 = estimate(b"5d41402abc4b2a76b9719d911017c592");
        assert!(hex16.bits <= 130.0, "{hex16:?}");
    }

    #[test]
    fn sequences_repeats_and_words_carry_almost_nothing() {
        let s = estimate(b"abcdefghijklmnopqrstuvwxyz0123456789");
        assert!(s.bits < 20.0, "{s:?}");
        assert_eq!(s.kinds, ["sequences"]);
        let s = estimate(b"SuperSecretPassword!SuperSecretPassword!");
        assert!(s.bits < 60.0, "{s:?}");
        assert!(s.kinds.contains(&"repeats") && s.kinds.contains(&"dictionary words"), "{s:?}");
        let s = estimate(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert!(s.bits < 10.0, "{s:?}");
    }

    proptest::proptest! {
        // What `openssl rand -hex 32` and `-base64 32` print always meets the 256-bit claim.
        #[test]
        fn thirty_two_random_bytes_meet_256_bits(bytes in proptest::array::uniform32(proptest::prelude::any::<u8>())) {
            use base64::Engine;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            let (h, b) = (estimate(hex.as_bytes()), estimate(b64.as_bytes()));
            proptest::prop_assert!(h.bits >= 256.0, "{:?}", h);
            proptest::prop_assert!(b.bits >= 256.0, "{:?}", b);
        }
    }

    #[test]
    fn never_panics_and_examines_a_bounded_prefix() {
        for v in [&b""[..], b"a", b"ab", b"\xff\x00\x01", b"===="] {
            let _ = estimate(v);
        }
        let huge = vec![b'z'; 1 << 20];
        assert_eq!(estimate(&huge).examined, MAX_EXAMINED);
    }
}
