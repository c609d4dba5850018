//! Single-decree Paxos on UDP: which of its messages only peers may send (H2, H3) and which
//! announce a preemption (L1). Its messages carry no strings, so it keeps the default size
//! limit (H1) and refuses nothing else (H4).
use crate::protocol::paxos::{Msg, PaxosActor};
use crate::runtime::guard::policy::{MsgKind, WireProtocol};

impl WireProtocol for PaxosActor {
    fn kind(msg: &Msg) -> MsgKind {
        match msg {
            Msg::Put { .. } | Msg::Get { .. } => MsgKind::ClientRequest,
            Msg::PutOk { .. } | Msg::PutFail { .. } | Msg::GetOk { .. } => MsgKind::ClientReply,
            Msg::Prepare { .. }
            | Msg::Promise { .. }
            | Msg::Accept { .. }
            | Msg::Accepted { .. }
            | Msg::Read { .. }
            | Msg::ReadReply { .. } => MsgKind::Internal,
            Msg::Rejected { .. } => MsgKind::Preemption,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::paxos::Ballot;

    // H2, H3: the guard's classification of every Paxos message.
    #[test]
    fn only_client_requests_are_open_to_anyone() {
        assert_eq!(
            PaxosActor::kind(&Msg::Get { request: 1 }),
            MsgKind::ClientRequest
        );
        assert_eq!(
            PaxosActor::kind(&Msg::Prepare {
                ballot: Ballot::default()
            }),
            MsgKind::Internal
        );
        assert_eq!(
            PaxosActor::kind(&Msg::PutOk { request: 1 }),
            MsgKind::ClientReply
        );
    }
}
