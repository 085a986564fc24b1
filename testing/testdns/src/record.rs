//! What the server answers for one name: its addresses, how many go into one answer, and which
//! fault (if any) it injects. Also the Route-53-like choice of the addresses in one answer.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use rand::Rng;
use rand::seq::index;

/// How many addresses Route 53 puts into one answer when a name has more.
pub const DEFAULT_MAX_ANSWERS: usize = 8;

/// TTL of served records. Route 53 serves ELB names with 60 s, so a resolver that honoured it
/// would cache; tests rely on that to prove the resolver under test does not.
pub const DEFAULT_TTL: u32 = 60;

/// How the server reacts to a query for a name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Answer with (a rotated subset of) the addresses of the asked type.
    #[default]
    Ok,
    /// Answer SERVFAIL.
    ServFail,
    /// Answer NXDOMAIN even though the name is configured.
    NxDomain,
    /// Answer REFUSED.
    Refused,
    /// Never answer: the client sees a timeout.
    Drop,
}

impl Mode {
    /// The spelling used in zone files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ServFail => "servfail",
            Self::NxDomain => "nxdomain",
            Self::Refused => "refused",
            Self::Drop => "drop",
        }
    }
}

/// The behaviour configured for one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Addresses answered to A queries.
    pub a: Vec<Ipv4Addr>,
    /// Addresses answered to AAAA queries.
    pub aaaa: Vec<Ipv6Addr>,
    /// At most this many addresses per answer; a random subset is chosen per query when there
    /// are more. Values below 1 are served as 1.
    pub max_answers: usize,
    /// Normal answers or an injected fault.
    pub mode: Mode,
    /// TTL of the answered records, in seconds.
    pub ttl: u32,
    /// Name servers answered to NS queries (host names), for a resolver's authoritative mode.
    pub ns: Vec<String>,
    /// How long the server waits before answering: a slow name server.
    pub delay: Duration,
}

impl Default for Record {
    fn default() -> Self {
        Self {
            a: Vec::new(),
            aaaa: Vec::new(),
            max_answers: DEFAULT_MAX_ANSWERS,
            mode: Mode::Ok,
            ttl: DEFAULT_TTL,
            ns: Vec::new(),
            delay: Duration::ZERO,
        }
    }
}

impl Record {
    /// A name answering these IPv4 addresses (and no IPv6 address).
    pub fn a(addresses: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        Self { a: addresses.into_iter().collect(), ..Self::default() }
    }

    /// A name answering these IPv6 addresses (and no IPv4 address).
    pub fn aaaa(addresses: impl IntoIterator<Item = Ipv6Addr>) -> Self {
        Self { aaaa: addresses.into_iter().collect(), ..Self::default() }
    }

    /// A name that only injects `mode` (no addresses).
    pub fn fault(mode: Mode) -> Self {
        Self { mode, ..Self::default() }
    }

    /// The same record with another per-answer limit.
    #[must_use]
    pub fn with_max_answers(mut self, max_answers: usize) -> Self {
        self.max_answers = max_answers;
        self
    }

    /// The same record with another mode.
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// A zone apex whose NS records name these hosts.
    pub fn ns(hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { ns: hosts.into_iter().map(Into::into).collect(), ..Self::default() }
    }

    /// The same record answered only after `delay`.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The same record with another TTL.
    #[must_use]
    pub fn with_ttl(mut self, ttl: u32) -> Self {
        self.ttl = ttl;
        self
    }
}

/// The addresses of one answer: all of them when they fit, otherwise `max_answers` distinct ones
/// drawn at random (in random order), independently for every query.
///
/// Route 53 is usually kinder (it rotates), but a uniformly random subset is the harder case
/// for a sampling client, so tests built on it do not overestimate the client.
pub fn select_answers<T: Copy>(addresses: &[T], max_answers: usize, rng: &mut impl Rng) -> Vec<T> {
    let amount = max_answers.max(1);
    if addresses.len() <= amount {
        return addresses.to_vec();
    }
    index::sample(rng, addresses.len(), amount).into_iter().filter_map(|i| addresses.get(i).copied()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn answers_everything_when_the_addresses_fit() {
        let mut rng = StdRng::seed_from_u64(1);
        let addresses: Vec<u32> = (0..8).collect();
        assert_eq!(select_answers(&addresses, 8, &mut rng), addresses);
    }

    #[test]
    fn answers_at_most_max_answers_distinct_configured_addresses() {
        let mut rng = StdRng::seed_from_u64(2);
        let addresses: Vec<u32> = (0..100).collect();
        for _ in 0..1000 {
            let answer = select_answers(&addresses, 8, &mut rng);
            let distinct: BTreeSet<u32> = answer.iter().copied().collect();
            assert_eq!(answer.len(), 8);
            assert_eq!(distinct.len(), 8, "an answer repeats an address: {answer:?}");
            assert!(distinct.iter().all(|a| *a < 100));
        }
    }

    #[test]
    fn successive_answers_differ_and_together_cover_every_address() {
        let mut rng = StdRng::seed_from_u64(3);
        let addresses: Vec<u32> = (0..100).collect();
        let answers: Vec<BTreeSet<u32>> =
            (0..200).map(|_| select_answers(&addresses, 8, &mut rng).into_iter().collect()).collect();
        let distinct_answers: BTreeSet<&BTreeSet<u32>> = answers.iter().collect();
        assert!(distinct_answers.len() > 190, "rotation barely varies");
        let union: BTreeSet<u32> = answers.into_iter().flatten().collect();
        assert_eq!(union.len(), 100);
    }

    #[test]
    fn a_limit_below_one_is_served_as_one() {
        let mut rng = StdRng::seed_from_u64(4);
        assert_eq!(select_answers(&[1, 2, 3], 0, &mut rng).len(), 1);
    }

    #[test]
    fn no_addresses_give_an_empty_answer() {
        let mut rng = StdRng::seed_from_u64(5);
        assert!(select_answers::<u32>(&[], 8, &mut rng).is_empty());
    }
}
