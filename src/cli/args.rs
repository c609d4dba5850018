//! What several commands' arguments share: the protocol (`--protocol`) and addresses.
use crate::cli::error::Error;
use crate::runtime;
use std::net::{SocketAddr, SocketAddrV4};

/// The protocols on the command line (`--protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ProtocolArg {
    /// Single-decree Paxos: a write-once register.
    Paxos,
    /// Multi-Paxos: a replicated key-value log with a stable leader.
    MultiPaxos,
}

impl From<ProtocolArg> for runtime::node::Protocol {
    fn from(protocol: ProtocolArg) -> Self {
        match protocol {
            ProtocolArg::Paxos => runtime::node::Protocol::Paxos,
            ProtocolArg::MultiPaxos => runtime::node::Protocol::MultiPaxos,
        }
    }
}

/// Parses `IPv4:port`. stateright's [`Id`](stateright::actor::Id) holds an IPv4 address and
/// port, so IPv6 and host names are refused, and so is port 0 (peers must know the address in
/// advance).
pub(crate) fn parse_address(input: &str) -> Result<SocketAddrV4, Error> {
    let malformed = |reason: &str| Error::MalformedAddress {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    match input.trim().parse::<SocketAddr>() {
        Ok(SocketAddr::V4(address)) if address.port() == 0 => {
            Err(malformed("port 0 is not allowed"))
        }
        Ok(SocketAddr::V4(address)) => Ok(address),
        Ok(SocketAddr::V6(_)) => Err(malformed("IPv6 is not supported")),
        Err(e) => Err(malformed(&e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_explain() {
        assert_eq!(
            parse_address("127.0.0.1:3000").ok(),
            Some("127.0.0.1:3000".parse().expect("a valid literal"))
        );
        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            "[::1]:3000",
            "localhost:3000",
            "1.2.3.4:70000",
        ] {
            let parsed = parse_address(bad);
            assert!(
                matches!(parsed, Err(Error::MalformedAddress { .. })),
                "{bad}"
            );
            assert_eq!(parsed.err().map(|e| e.exit_code()), Some(2), "{bad}");
        }
    }
}
