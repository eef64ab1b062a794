//! The address space NetworkPolicy `ipBlock` peers cover together. A rule's peers are ORed,
//! so `0.0.0.0/1` and `128.0.0.0/1` reach as far as `0.0.0.0/0`; `except` carves holes.
//! What counts is whether every public address is reachable: carving out the private ranges
//! of `0.0.0.0/0` still opens the internet.

use std::net::IpAddr;

/// Inclusive address ranges of one family, as integers.
type Ranges = Vec<(u128, u128)>;

/// Ranges no internet host has (RFC 6890 special-purpose blocks, multicast and reserved).
const V4_NOT_PUBLIC: [&str; 9] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
];
/// Global unicast: every public IPv6 address today.
const V6_PUBLIC: &str = "2000::/3";

/// A CIDR as (is IPv6, first, last). Kubernetes validates these, but files are not validated.
pub fn parse(cidr: &str) -> Option<(bool, u128, u128)> {
    let (addr, len) = cidr.trim().split_once('/')?;
    let addr: IpAddr = addr.trim().parse().ok()?;
    let len: u32 = len.trim().parse().ok()?;
    let (v6, bits, value) = match addr {
        IpAddr::V4(a) => (false, 32, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, 128, u128::from(a)),
    };
    if len > bits {
        return None;
    }
    let host_bits = bits - len;
    let mask = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
    Some((v6, value & !mask, (value & !mask) | mask))
}

fn subtract(ranges: &Ranges, (a, b): (u128, u128)) -> Ranges {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for &(s, e) in ranges {
        if b < s || a > e {
            out.push((s, e));
            continue;
        }
        if s < a {
            out.push((s, a - 1));
        }
        if e > b {
            out.push((b + 1, e));
        }
    }
    out
}

/// The family ("IPv4"/"IPv6") whose every public address the blocks reach together, if any.
/// Each block is its `cidr` and `except` list; an unreadable CIDR reaches nothing.
pub fn covers_every_public_address<'a>(
    blocks: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Option<&'static str> {
    let mut reached: [Ranges; 2] = [Vec::new(), Vec::new()];
    for (cidr, except) in blocks {
        let Some((v6, s, e)) = parse(cidr) else { continue };
        let mut ranges = vec![(s, e)];
        for x in except {
            if let Some((xv6, xs, xe)) = parse(x) {
                if xv6 == v6 {
                    ranges = subtract(&ranges, (xs, xe));
                }
            }
        }
        reached[usize::from(v6)].extend(ranges);
    }
    let mut v4_public: Ranges = vec![(0, u128::from(u32::MAX))];
    for r in V4_NOT_PUBLIC {
        let (_, s, e) = parse(r).expect("the constant ranges parse");
        v4_public = subtract(&v4_public, (s, e));
    }
    let (_, s, e) = parse(V6_PUBLIC).expect("the constant range parses");
    for (family, public, name) in [(0, v4_public, "IPv4"), (1, vec![(s, e)], "IPv6")] {
        let mut left = public;
        for &r in &reached[family] {
            left = subtract(&left, r);
        }
        if left.is_empty() && !reached[family].is_empty() {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(blocks: &[(&str, &[&str])]) -> Option<&'static str> {
        let owned: Vec<(String, Vec<String>)> =
            blocks.iter().map(|(c, x)| (c.to_string(), x.iter().map(|s| s.to_string()).collect())).collect();
        covers_every_public_address(owned.iter().map(|(c, x)| (c.as_str(), x.as_slice())))
    }

    #[test]
    fn halves_together_are_everything() {
        assert_eq!(covers(&[("0.0.0.0/0", &[])]), Some("IPv4"));
        assert_eq!(covers(&[("0.0.0.0/1", &[]), ("128.0.0.0/1", &[])]), Some("IPv4"));
        assert_eq!(covers(&[("0.0.0.0/1", &[])]), None);
        assert_eq!(covers(&[("::/0", &[])]), Some("IPv6"));
        assert_eq!(covers(&[("2000::/4", &[]), ("3000::/4", &[])]), Some("IPv6"));
    }

    #[test]
    fn carving_private_ranges_still_opens_the_internet_but_carving_public_ones_does_not() {
        assert_eq!(covers(&[("0.0.0.0/0", &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])]), Some("IPv4"));
        assert_eq!(covers(&[("0.0.0.0/0", &["8.8.8.0/24"])]), None);
        assert_eq!(covers(&[("10.0.0.0/8", &[])]), None);
        assert_eq!(covers(&[("not-a-cidr", &[]), ("300.0.0.0/0", &[])]), None);
        assert_eq!(parse("10.1.2.3/8"), Some((false, 10 << 24, (10 << 24) | 0xFF_FFFF)));
        assert_eq!(parse("1.2.3.4/33"), None);
    }
}
