//! Who is on the other end of a request: the client's address and the scheme the browser used.
//! The one place that decides whether forwarding headers are believed: only when the peer itself
//! is a configured trusted proxy (`EXECGOV_TRUSTED_PROXIES`). Anyone else can write
//! `X-Forwarded-For` to pose as any address, or to make every client look alike.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Addresses and CIDR ranges: the trusted proxies, who may scrape `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressRanges(Vec<IpNet>);

/// The reverse proxies whose forwarding headers are believed.
pub type TrustedProxies = AddressRanges;

impl FromStr for AddressRanges {
    type Err = String;

    /// A comma- or space-separated list such as `127.0.0.1, 10.0.0.0/8, ::1`.
    fn from_str(list: &str) -> Result<AddressRanges, String> {
        list.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(AddressRanges)
    }
}

impl AddressRanges {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// The client as the request's own transport and its trusted proxies describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// `None` only when the peer's address is unknown (never over TCP).
    pub ip: Option<IpAddr>,
    /// `https` when a trusted proxy says the browser used TLS; otherwise `http`, the only scheme
    /// ExecGov serves itself.
    pub scheme: &'static str,
}

impl Client {
    /// From the TCP peer and the forwarding headers. Walking the forwarding chain from the
    /// nearest hop outwards, each trusted hop's claim is believed, and the first untrusted
    /// address is the client: an address the client wrote itself further left counts for nothing.
    pub fn of(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &TrustedProxies) -> Client {
        let Some(peer) = peer.map(|p| p.to_canonical()) else {
            return Client {
                ip: None,
                scheme: "http",
            };
        };
        if !proxies.contains(peer) {
            return Client {
                ip: Some(peer),
                scheme: "http",
            };
        }
        let (mut hops, proto) = forwarded(headers);
        let mut ip = peer;
        while proxies.contains(ip) {
            match hops.pop() {
                Some(Some(hop)) => ip = hop,
                // An unreadable or hidden hop ("unknown", "_name"): the last trusted address
                // stands, rather than believing anything further out.
                Some(None) | None => break,
            }
        }
        Client {
            ip: Some(ip),
            scheme: match proto.as_deref() {
                Some(p) if p.eq_ignore_ascii_case("https") => "https",
                _ => "http",
            },
        }
    }
}

/// The forwarding chain (client first) and the scheme the nearest proxy reports: RFC 7239
/// `Forwarded` when present, else `X-Forwarded-For` and `X-Forwarded-Proto`.
fn forwarded(headers: &HeaderMap) -> (Vec<Option<IpAddr>>, Option<String>) {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let elements = values("forwarded");
    if !elements.is_empty() {
        let param = |element: &str, name: &str| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().trim_matches('"').to_string())
            })
        };
        let hops = elements
            .iter()
            .map(|e| param(e, "for").and_then(|v| node_ip(&v)))
            .collect();
        let proto = elements.last().and_then(|e| param(e, "proto"));
        return (hops, proto);
    }
    let hops = values("x-forwarded-for")
        .iter()
        .map(|v| node_ip(v))
        .collect();
    (hops, values("x-forwarded-proto").pop())
}

/// An address as forwarding headers write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711` or a bare IPv6 address.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let host = match node.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None => node.rsplit_once(':')?.0,
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_peer() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.7".parse().unwrap();
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        // From an untrusted peer, the headers are ignored.
        assert_eq!(
            Client::of(Some(ip("198.51.100.1")), &h, &proxies),
            Client {
                ip: Some(ip("198.51.100.1")),
                scheme: "http"
            }
        );
        // From a trusted proxy, the nearest untrusted hop is the client, not what it wrote.
        assert_eq!(
            Client::of(Some(ip("10.1.2.3")), &h, &proxies),
            Client {
                ip: Some(ip("203.0.113.9")),
                scheme: "https"
            }
        );
        // A chain of trusted proxies is walked through.
        let chain = headers(&[("x-forwarded-for", "203.0.113.9, 192.0.2.7")]);
        assert_eq!(
            Client::of(Some(ip("10.1.2.3")), &chain, &proxies).ip,
            Some(ip("203.0.113.9"))
        );
        // No configured proxies: nothing is believed.
        assert_eq!(
            Client::of(Some(ip("10.1.2.3")), &h, &TrustedProxies::default()).ip,
            Some(ip("10.1.2.3"))
        );
    }

    #[test]
    fn rfc_7239_forwarded_is_read_with_ports_and_brackets() {
        let proxies: TrustedProxies = "::1 127.0.0.1".parse().unwrap();
        let h = headers(&[(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https"#,
        )]);
        assert_eq!(
            Client::of(Some(ip("::1")), &h, &proxies),
            Client {
                ip: Some(ip("2001:db8:cafe::17")),
                scheme: "https"
            }
        );
        // An IPv4 peer seen as an IPv4-mapped IPv6 address is the same peer.
        let hidden = headers(&[("forwarded", "for=_hidden;proto=http")]);
        assert_eq!(
            Client::of(Some(ip("::ffff:127.0.0.1")), &hidden, &proxies).ip,
            Some(ip("127.0.0.1"))
        );
        assert_eq!(node_ip("192.0.2.1:80"), Some(ip("192.0.2.1")));
        assert_eq!(node_ip("unknown"), None);
    }

    #[test]
    fn a_bad_proxy_list_is_refused() {
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.example".parse::<TrustedProxies>().is_err());
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::default()
        );
    }
}
