use paxos::paxos::Variant;
use paxos::paxos_model::*;
use stateright::{Checker, HasDiscoveries, Model};
use std::time::{Duration, Instant};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let servers: usize = args[1].parse().unwrap();
    let clients: usize = args[2].parse().unwrap();
    let network = match args[3].as_str() {
        "o" => NetworkKind::Ordered,
        "d" => NetworkKind::UnorderedDuplicating,
        _ => NetworkKind::UnorderedNonduplicating,
    };
    let max_round: u32 = args[4].parse().unwrap();
    let max_crashes: usize = args[5].parse().unwrap();
    let lossy = args[6] == "1";
    let variant: Variant = serde_json::from_str(&format!("\"{}\"", args[7])).unwrap();
    let dfs = args.get(8).map(|s| s == "dfs").unwrap_or(false);
    let secs: u64 = std::env::var("T").map(|t| t.parse().unwrap()).unwrap_or(60);
    let t = Instant::now();
    let b = PaxosConfig {
        layout: Layout::Servers { servers },
        clients,
        readers: std::env::var("R").map(|r| r.parse().unwrap()).unwrap_or(0),
        network,
        lossy,
        max_crashes,
        max_round,
        variant,
    }
    .into_model()
    .checker()
    .threads(2)
    .finish_when(match std::env::var("FINISH") {
        Ok(n) => HasDiscoveries::AnyOf([&*Box::leak(n.into_boxed_str())].into_iter().collect()),
        Err(_) => HasDiscoveries::AllFailures,
    })
    .timeout(Duration::from_secs(secs));
    fn show<C: Checker<PaxosModel>>(c: C, t: Instant) {
        let d = c.discoveries();
        let mut names: Vec<String> = d
            .iter()
            .map(|(k, p)| format!("{k}({})", p.clone().into_actions().len()))
            .collect();
        names.sort();
        println!(
            "unique={} total={} depth={} secs={:.1} discoveries={:?}",
            c.unique_state_count(),
            c.state_count(),
            c.max_depth(),
            t.elapsed().as_secs_f64(),
            names
        );
    }
    if dfs {
        show(b.spawn_dfs().join(), t)
    } else {
        show(b.spawn_bfs().join(), t)
    };
}
