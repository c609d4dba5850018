//! The replay model of each protocol: its servers those of the traced cluster, no model
//! clients, an unordered duplicating lossy network (V3), and the runtime's own tuning.
use crate::model::linearizability::Calls;
use crate::model::multi_paxos::MultiPaxosConfig;
use crate::model::network::NetworkKind;
use crate::model::paxos::{Layout, PaxosConfig};
use crate::protocol::multi_paxos::Kv;
use crate::validate::outcome::{BadTrace, ValidationReport};
use crate::validate::replay::replay;
use crate::validate::traces::read;
use stateright::semantics::write_once_register::WORegister;
use std::path::Path;
use std::sync::Arc;

/// Validates the traces in `dir` against the model of the protocol they name.
pub fn validate(dir: &Path) -> Result<ValidationReport, BadTrace> {
    let traces = read(dir)?;
    let n = traces.cluster.len();
    match traces.protocol.as_str() {
        "paxos" => {
            let model = PaxosConfig {
                layout: Layout::Servers { servers: n },
                clients: 0,
                network: NetworkKind::UnorderedDuplicating,
                lossy: true,
                max_crashes: n,
                max_round: None,
                ..PaxosConfig::default()
            }
            .into_model();
            replay(
                &model,
                &traces,
                |ghost: &mut crate::model::paxos::History| {
                    Arc::make_mut(ghost).calls = Calls::new(WORegister(None));
                },
            )
        }
        "multi-paxos" => {
            let model = MultiPaxosConfig {
                servers: n,
                clients: 0,
                reads: false,
                network: NetworkKind::UnorderedDuplicating,
                lossy: true,
                max_crashes: n,
                ballots: u8::MAX,
                slots: crate::protocol::multi_paxos::Slot::MAX,
                ..MultiPaxosConfig::default()
            }
            // As the runtime runs it (`multi_paxos_server`).
            .tuned_as(&crate::runtime::node::UDP_TUNING)
            .into_model();
            replay(
                &model,
                &traces,
                |ghost: &mut crate::model::multi_paxos::History| {
                    Arc::make_mut(ghost).calls = Calls::new(Kv::default());
                },
            )
        }
        other => Err(BadTrace {
            file: Some(dir.to_owned()),
            line: None,
            reason: format!("unknown protocol {other:?} (paxos or multi-paxos)"),
        }),
    }
}
