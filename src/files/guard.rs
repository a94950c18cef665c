//! Where the gateway may fetch a document from (contract section 6): only the hosts of
//! `portal.file_hosts`, and on those only public addresses — a private, loopback or link-local
//! address only where the list names that address itself. The check is made on the addresses
//! the connection is actually made to: names are resolved here ([`GuardedResolver`]), and only
//! the addresses that pass are handed to the HTTP client, so a name that resolves to an internal
//! address after any earlier check cannot slip through. Redirects are checked the same way.
//! An agency's result documents (contract section 9) come only from its own host: each source
//! of documents has its own list and its own client ([`Source`]).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// Why a place is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAllowed {
    /// Not `http` or `https`.
    #[error("scheme {0:?} is not fetched")]
    Scheme(String),
    /// The host (with its port) is not on `portal.file_hosts`.
    #[error("host {0} is not on portal.file_hosts")]
    Host(String),
    /// The address is private, loopback, link-local or otherwise internal, and not listed.
    #[error("{host} resolves to {address}, an internal address not on portal.file_hosts")]
    Internal {
        /// The name.
        host: String,
        /// The address refused.
        address: IpAddr,
    },
}

/// The allowed hosts, as `portal.file_hosts` lists them: `host` (any port) or `host:port`.
#[derive(Debug, Clone, Default)]
pub struct FileHosts {
    any_port: HashSet<String>,
    with_port: HashSet<(String, u16)>,
    listed_addresses: HashSet<IpAddr>,
}

impl FileHosts {
    /// From the configuration's entries; an entry that is an IP address also allows that
    /// address when it is internal.
    pub fn new(entries: &[String]) -> Self {
        let mut hosts = Self::default();
        for entry in entries {
            let entry = entry.trim().to_ascii_lowercase();
            let (host, port) = split_host_port(&entry);
            if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
                hosts.listed_addresses.insert(ip);
            }
            match port {
                Some(p) => hosts.with_port.insert((host.to_owned(), p)),
                None => hosts.any_port.insert(host.to_owned()),
            };
        }
        hosts
    }

    /// Whether `url` may be requested: its scheme, its host and port, and, for an address
    /// written in the URL, the address itself (a name's addresses are checked at resolution).
    pub fn check(&self, url: &Url) -> Result<(), NotAllowed> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NotAllowed::Scheme(url.scheme().to_owned()));
        }
        let Some(host) = url.host() else {
            return Err(NotAllowed::Host(String::new()));
        };
        let name = match host {
            Host::Domain(d) => d.to_ascii_lowercase(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => format!("[{ip}]"),
        };
        let port = url.port_or_known_default().unwrap_or(0);
        if !self.any_port.contains(&name) && !self.with_port.contains(&(name.clone(), port)) {
            return Err(NotAllowed::Host(format!("{name}:{port}")));
        }
        let literal = match host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        };
        match literal {
            Some(address) => self.check_address(&name, address),
            None => Ok(()),
        }
    }

    /// Whether a connection to `address` (of `host`) may be made.
    pub fn check_address(&self, host: &str, address: IpAddr) -> Result<(), NotAllowed> {
        if is_public(address) || self.listed_addresses.contains(&address) {
            Ok(())
        } else {
            Err(NotAllowed::Internal {
                host: host.to_owned(),
                address,
            })
        }
    }
}

fn split_host_port(entry: &str) -> (&str, Option<u16>) {
    // `[v6]:port`, `[v6]`, `host:port`, `host`; a bare v6 address has several colons.
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, tail)) => {
                let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
                (&entry[..ip.len() + 2], port)
            }
            None => (entry, None),
        };
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared,
/// unspecified, broadcast, multicast, documentation or unique-local.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// The HTTP client's resolver: a name's addresses, less those [`FileHosts`] refuses. A name
/// left with none fails with [`NotAllowed::Internal`], which the fetcher reads from the
/// client's error.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    hosts: Arc<FileHosts>,
}

impl GuardedResolver {
    /// A resolver for these hosts.
    pub fn new(hosts: Arc<FileHosts>) -> Self {
        Self { hosts }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let hosts = self.hosts.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match hosts.check_address(&host, a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused = Some(e);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(e)) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// Redirects followed, each to an allowed host.
pub const MAX_REDIRECTS: usize = 3;

/// A redirect past [`MAX_REDIRECTS`].
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
pub(crate) struct TooManyRedirects;

/// Where one kind of document comes from: its allowed hosts, and a client whose resolver and
/// redirects are held to them.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) hosts: Arc<FileHosts>,
    pub(crate) client: reqwest::Client,
}

impl Source {
    /// `entries` as `portal.file_hosts` lists them; each request at most `timeout`.
    pub(crate) fn new(entries: &[String], timeout: Duration) -> anyhow::Result<Self> {
        let hosts = Arc::new(FileHosts::new(entries));
        let policy_hosts = hosts.clone();
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(hosts.clone())))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(TooManyRedirects);
                }
                match policy_hosts.check(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            }))
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .build()?;
        Ok(Self { hosts, client })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn only_listed_hosts_and_ports_are_fetched_from() {
        let hosts = FileHosts::new(&["files.portal.example".into(), "127.0.0.1:9102".into()]);
        assert_eq!(
            hosts.check(&url("https://files.portal.example/a.pdf")),
            Ok(())
        );
        assert_eq!(
            hosts.check(&url("http://files.portal.example:8080/a.pdf")),
            Ok(())
        );
        assert_eq!(hosts.check(&url("http://127.0.0.1:9102/a.pdf")), Ok(()));
        assert_eq!(
            hosts.check(&url("http://127.0.0.1:9103/a.pdf")),
            Err(NotAllowed::Host("127.0.0.1:9103".into()))
        );
        assert_eq!(
            hosts.check(&url("https://evil.example/a.pdf")),
            Err(NotAllowed::Host("evil.example:443".into()))
        );
        assert_eq!(
            hosts.check(&url("file:///etc/passwd")),
            Err(NotAllowed::Scheme("file".into()))
        );
    }

    #[test]
    fn internal_addresses_pass_only_where_listed_as_addresses() {
        let hosts = FileHosts::new(&["files.portal.example".into(), "10.1.2.3".into()]);
        for internal in [
            "127.0.0.1",
            "10.0.0.8",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            let Ok(ip) = internal.parse::<IpAddr>() else {
                panic!("{internal}");
            };
            assert!(!is_public(ip), "{internal}");
            assert!(
                hosts.check_address("files.portal.example", ip).is_err(),
                "{internal}"
            );
        }
        for public in ["203.113.1.10", "8.8.8.8", "2404:6800:4005::200e"] {
            let Ok(ip) = public.parse::<IpAddr>() else {
                panic!("{public}");
            };
            assert_eq!(
                hosts.check_address("files.portal.example", ip),
                Ok(()),
                "{public}"
            );
        }
        let listed: IpAddr = [10, 1, 2, 3].into();
        assert_eq!(hosts.check_address("10.1.2.3", listed), Ok(()));
        assert_eq!(
            hosts.check(&url("http://[::1]:80/x")),
            Err(NotAllowed::Host("[::1]:80".into()))
        );
    }
}
