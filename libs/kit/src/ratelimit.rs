//! Rate limits that hold across replicas, and the client address they count.
//!
//! Each client address has a budget per scope (`verify`, or a service's
//! public methods): `per_second` sustained, `burst` at once, counted in Redis
//! by one Lua script (GCRA: one key per scope and address, holding the
//! theoretical arrival time, under the deployment's `redis.key_prefix` and
//! expiring once the budget is full again), so every replica behind a proxy
//! draws on the same budget. When Redis errors, times out or is paused after
//! a failure (as the cache does, see [`crate::cache`]), the call is counted
//! by a per-process token bucket instead and `ocop_rate_limit_fallback_total`
//! counts it: during an outage each replica allows the budget on its own.
//!
//! The client is the direct peer unless that peer is one of
//! `http.trusted_proxies`; then it is the rightmost address of `Forwarded`
//! (`for=`) or, without it, `X-Forwarded-For` that is not a trusted proxy
//! itself. A header from any other peer is ignored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};

/// A block of addresses, `10.0.0.0/8` or `::1/128` (a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (addr, prefix) = s.trim().split_once('/').map_or((s.trim(), None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("\"{s}\" is not an address block such as \"10.0.0.0/8\" or \"::1/128\""))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("\"{s}\": the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct Proxies(Vec<Cidr>);

impl Proxies {
    /// From `http.trusted_proxies` (validated at start; a bad entry is skipped).
    pub fn from_config(config: &Config) -> Proxies {
        Proxies(
            config
                .http
                .trusted_proxies
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
        )
    }

    /// Proxies at these blocks.
    pub fn new(blocks: Vec<Cidr>) -> Proxies {
        Proxies(blocks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client behind a request from `peer` with `headers`: `peer` unless
    /// it is a trusted proxy; then the rightmost forwarded hop that is not
    /// one (the leftmost when all are; the nearest trusted hop when the next
    /// one is unreadable, `unknown` or obfuscated).
    pub fn client(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all(http::header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
                })
            })
            .collect();
        let hops = if forwarded.is_empty() {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect()
        } else {
            forwarded
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop_addr(hop) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }
}

/// The address of one hop: `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`, `::1`.
fn hop_addr(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest
            .split_once(']')?
            .0
            .parse::<IpAddr>()
            .ok()
            .map(|ip| ip.to_canonical());
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The client address of a gRPC call, put in its extensions by the request layer ([`crate::request_layer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// One budget: its scope (a metric label and part of the key), its rate,
/// and the reason and words of its refusal.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// `verify`, or the service whose public methods it covers.
    pub scope: &'static str,
    /// Calls per second, sustained (at least 1).
    pub per_second: u32,
    /// Calls at once (at least 1).
    pub burst: u32,
    /// The refusal's reason, e.g. `VERIFY_RATE_LIMITED`.
    pub reason: &'static str,
    /// What is counted, for the message: "verifications", "calls".
    pub what: &'static str,
}

impl Rule {
    /// The budget of a service's public methods (`http.public_*`).
    pub fn public(service: &'static str, config: &Config) -> Rule {
        Rule {
            scope: service,
            per_second: config.http.public_per_second,
            burst: config.http.public_burst,
            reason: "RATE_LIMITED",
            what: "calls without a token",
        }
    }

    /// The budget of verifications, on the page and by RPC (`certification.verify_*`).
    pub fn verify(config: &Config) -> Rule {
        Rule {
            scope: "verify",
            per_second: config.certification.verify_per_second,
            burst: config.certification.verify_burst,
            reason: "VERIFY_RATE_LIMITED",
            what: "verifications",
        }
    }

    fn interval_us(&self) -> u64 {
        (1_000_000 / u64::from(self.per_second.max(1))).max(1)
    }
}

/// GCRA in one step. KEYS[1]: the bucket; ARGV: the emission interval and
/// the burst. Returns {1, 0} when allowed, {0, µs to wait} when not. Redis's
/// clock is the one clock every replica shares.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if now < allow_at then
  return {0, allow_at - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
";

/// Past this many tracked fallback buckets, full ones are forgotten.
const TRACKED: usize = 100_000;

/// A fallback bucket: tokens left, and when they were counted.
type Bucket = (f64, Instant);

/// See the module documentation.
pub struct Limiter {
    cache: Cache,
    proxies: Proxies,
    /// The script's SHA1 once Redis has loaded it.
    sha: Mutex<Option<String>>,
    /// Per-process buckets used while Redis does not answer.
    local: Mutex<HashMap<(&'static str, IpAddr), Bucket>>,
    fallbacks: AtomicU64,
}

impl Limiter {
    /// A limiter on the deployment's Redis (connected lazily) with its trusted proxies.
    pub fn new(config: &Config) -> anyhow::Result<Limiter> {
        Ok(Limiter {
            cache: Cache::new(&config.redis, "ratelimit")?,
            proxies: Proxies::from_config(config),
            sha: Mutex::new(None),
            local: Mutex::default(),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// The trusted proxies, to find a request's client.
    pub fn proxies(&self) -> &Proxies {
        &self.proxies
    }

    /// Calls this limiter counted per process because Redis did not answer.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Takes one call from `client`'s budget under `rule`, or
    /// RESOURCE_EXHAUSTED (with RetryInfo) saying when to retry.
    pub async fn check(&self, rule: &Rule, client: IpAddr) -> Result<()> {
        let client = client.to_canonical();
        let verdict = match self.shared(rule, client).await {
            Some(verdict) => verdict,
            None => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("ocop_rate_limit_fallback_total", "scope" => rule.scope).increment(1);
                self.local(rule, client)
            }
        };
        let result = if verdict.is_none() { "allowed" } else { "limited" };
        metrics::counter!("ocop_rate_limit_total", "scope" => rule.scope, "result" => result).increment(1);
        match verdict {
            None => Ok(()),
            Some(wait) => Err(Error::new(
                ErrorKind::ResourceExhausted,
                rule.reason,
                format!(
                    "too many {} from {client}: {} a second are allowed; retry in {} ms",
                    rule.what,
                    rule.per_second,
                    wait.as_millis().max(1)
                ),
            )
            .with_retry_after(wait)),
        }
    }

    /// `Some(None)` allowed, `Some(Some(wait))` refused, `None` Redis did not answer.
    async fn shared(&self, rule: &Rule, client: IpAddr) -> Option<Option<Duration>> {
        let key = self.cache.key(&format!("{}:{client}", rule.scope));
        let known = self.sha.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (interval, burst) = (rule.interval_us(), rule.burst.max(1));
        let (reply, sha) = self
            .cache
            .run("ratelimit", |mut conn| async move {
                let sha = match known {
                    Some(sha) => sha,
                    None => {
                        redis::cmd("SCRIPT")
                            .arg("LOAD")
                            .arg(SCRIPT)
                            .query_async::<String>(&mut conn)
                            .await?
                    }
                };
                let evalsha = redis::cmd("EVALSHA")
                    .arg(&sha)
                    .arg(1)
                    .arg(&key)
                    .arg(interval)
                    .arg(burst)
                    .query_async::<(i64, i64)>(&mut conn)
                    .await;
                match evalsha {
                    // A restarted or flushed Redis forgot the script.
                    Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                        let reply = redis::cmd("EVAL")
                            .arg(SCRIPT)
                            .arg(1)
                            .arg(&key)
                            .arg(interval)
                            .arg(burst)
                            .query_async::<(i64, i64)>(&mut conn)
                            .await?;
                        Ok((reply, sha))
                    }
                    other => Ok((other?, sha)),
                }
            })
            .await?;
        *self.sha.lock().unwrap_or_else(|p| p.into_inner()) = Some(sha);
        Some(match reply {
            (1, _) => None,
            (_, wait_us) => Some(Duration::from_micros(wait_us.max(1) as u64)),
        })
    }

    /// A token bucket per scope and address, in this process.
    fn local(&self, rule: &Rule, client: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let (rate, burst) = (f64::from(rule.per_second.max(1)), f64::from(rule.burst.max(1)));
        let mut buckets = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= TRACKED {
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry((rule.scope, client)).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return None;
        }
        Some(Duration::from_secs_f64((1.0 - *tokens) / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(blocks: &[&str]) -> Proxies {
        Proxies::new(blocks.iter().map(|b| b.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert!("::1".parse::<Cidr>().unwrap().contains(ip("::1")));
        assert!("fd00::/8".parse::<Cidr>().unwrap().contains(ip("fd12::1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy.local".parse::<Cidr>().is_err());
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let p = proxies(&["127.0.0.2/32"]);
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9")]);
        assert_eq!(p.client(ip("127.0.0.1"), &spoofed), ip("127.0.0.1"));
        assert_eq!(
            Proxies::default().client(ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_behind_trusted_proxies() {
        let p = proxies(&["127.0.0.2/32", "10.0.0.0/8"]);
        let peer = ip("127.0.0.2");
        // The client made up the first entry; the proxies appended the rest.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.7"),
            ("x-forwarded-for", "10.0.0.5"),
        ]);
        assert_eq!(p.client(peer, &h), ip("203.0.113.7"));
        let h = headers(&[(
            "forwarded",
            "for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.5",
        )]);
        assert_eq!(p.client(peer, &h), ip("2001:db8::7"));
        let h = headers(&[("forwarded", "for=203.0.113.7:8080"), ("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(p.client(peer, &h), ip("203.0.113.7"), "Forwarded wins");
        assert_eq!(p.client(peer, &headers(&[])), peer, "no header: the proxy itself");
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.5")]);
        assert_eq!(p.client(peer, &h), ip("10.0.0.9"), "all trusted: the leftmost");
        let h = headers(&[("forwarded", "for=unknown, for=10.0.0.5")]);
        assert_eq!(
            p.client(peer, &h),
            ip("10.0.0.5"),
            "unreadable: the nearest trusted hop"
        );
    }
}
