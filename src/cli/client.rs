//! `paxos client`: one operation against a cluster, its answer on standard output.
use crate::cli::args::{parse_address, ProtocolArg};
use crate::cli::error::{printed, Error};
use crate::protocol::multi_paxos::{KvOp, KvRet};
use crate::runtime::client::{MultiPaxosCodec, Op, Reply, UdpClient};
use std::io::{self, Write};
use std::time::Duration;

/// `paxos client`.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The protocol the servers run.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Paxos)]
    protocol: ProtocolArg,
    /// The servers, comma-separated; attempts go to one after the other.
    #[arg(long, value_delimiter = ',', required = true)]
    servers: Vec<String>,
    /// How long to wait for an answer to each attempt, in milliseconds.
    #[arg(long, default_value_t = 500)]
    timeout_ms: u64,
    /// How many attempts before giving up.
    #[arg(long, default_value_t = 6)]
    attempts: usize,
    #[command(subcommand)]
    op: ClientOp,
}

/// What the client asks.
#[derive(Debug, clap::Subcommand)]
enum ClientOp {
    /// paxos: `put VALUE` writes VALUE (one character) into the write-once register.
    /// multi-paxos: `put KEY VALUE` replaces KEY's value with VALUE (UTF-8 strings: a key of
    /// at most 256 bytes, a value of at most 1,024).
    Put {
        #[arg(value_name = "KEY|VALUE")]
        first: String,
        #[arg(value_name = "VALUE")]
        second: Option<String>,
    },
    /// paxos: `get` reads the register. multi-paxos: `get KEY` reads KEY.
    Get { key: Option<String> },
    /// multi-paxos only: `append KEY VALUE` appends VALUE to KEY's value and prints the result
    /// (which must stay within 1,024 bytes).
    Append { key: String, value: String },
}

impl ClientOp {
    /// The operation on the single-decree register.
    fn register(&self) -> Result<Op, Error> {
        match self {
            ClientOp::Put {
                first: value,
                second: None,
            } => {
                let mut chars = value.chars();
                match (chars.next(), chars.next()) {
                    (Some(value), None) => Ok(Op::Put(value)),
                    _ => Err(usage(&format!(
                        "paxos: the register holds one character, not {value:?}, e.g. `put A`"
                    ))),
                }
            }
            ClientOp::Get { key: None } => Ok(Op::Get),
            ClientOp::Put {
                second: Some(_), ..
            } => Err(usage("paxos: put takes one VALUE, e.g. `put A`")),
            ClientOp::Get { key: Some(_) } => {
                Err(usage("paxos: get takes no key (the register is one value)"))
            }
            ClientOp::Append { .. } => Err(usage(
                "paxos: the write-once register has no append; use --protocol multi-paxos",
            )),
        }
    }

    /// The operation on the Multi-Paxos key-value store, within the servers' size limits.
    fn key_value(&self) -> Result<KvOp<String>, Error> {
        let op = match self {
            ClientOp::Put {
                first: key,
                second: Some(value),
            } => KvOp::Put {
                key: key.clone(),
                value: value.clone(),
            },
            ClientOp::Get { key: Some(key) } => KvOp::Get { key: key.clone() },
            ClientOp::Append { key, value } => KvOp::Append {
                key: key.clone(),
                value: value.clone(),
            },
            ClientOp::Put { second: None, .. } => {
                return Err(usage("multi-paxos: put takes KEY VALUE, e.g. `put x A`"))
            }
            ClientOp::Get { key: None } => {
                return Err(usage("multi-paxos: get takes KEY, e.g. `get x`"))
            }
        };
        op.check_size()
            .map_err(|too_large| usage(&format!("multi-paxos: {too_large}")))?;
        Ok(op)
    }
}

fn usage(message: &str) -> Error {
    Error::Usage(message.to_owned())
}

/// Runs `paxos client`: prints the answer; `Ok(false)` for a PutFail or a TooLong.
pub(super) fn command(args: &ClientArgs) -> Result<bool, Error> {
    let servers = args
        .servers
        .iter()
        .map(|s| parse_address(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut client = UdpClient::new(
        servers,
        Duration::from_millis(args.timeout_ms),
        args.attempts,
    )?;
    let out = &mut io::stdout();
    match args.protocol {
        ProtocolArg::MultiPaxos => {
            let op = args.op.key_value()?;
            let ret = client.call_with::<MultiPaxosCodec>(op)?;
            let printing = match &ret {
                KvRet::PutOk => writeln!(out, "PutOk"),
                KvRet::GetOk { value: Some(value) } => writeln!(out, "GetOk: {value}"),
                KvRet::GetOk { value: None } => writeln!(out, "GetOk: (empty)"),
                KvRet::AppendOk { value } => writeln!(out, "AppendOk: {value}"),
                KvRet::TooLong { bytes, limit } => writeln!(
                    out,
                    "TooLong: not done: the value would be {bytes} bytes long; the store keeps \
                     at most {limit} bytes per key"
                ),
            };
            printed(printing)?;
            Ok(!matches!(ret, KvRet::TooLong { .. }))
        }
        ProtocolArg::Paxos => {
            let op = args.op.register()?;
            let reply = client.call(op)?;
            printed(writeln!(out, "{reply}"))?;
            Ok(reply != Reply::PutFail)
        }
    }
}
