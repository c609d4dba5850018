use paxos::paxos::Variant;
use paxos::paxos_model::*;
use stateright::{Checker, Model};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let servers: usize = args[1].parse().unwrap();
    let clients: usize = args[2].parse().unwrap();
    let net = match args[3].as_str() {
        "o" => NetworkKind::Ordered,
        "d" => NetworkKind::UnorderedDuplicating,
        _ => NetworkKind::UnorderedNonduplicating,
    };
    let max_round: u32 = args[4].parse().unwrap();
    let crashes: usize = args[5].parse().unwrap();
    let lossy = args[6] == "1";
    let variant: Variant = serde_json::from_str(&format!("\"{}\"", args[7])).unwrap();
    let dfs = args.get(8).map(|s| s == "dfs").unwrap_or(false);
    let t = std::time::Instant::now();
    let b = PaxosConfig {
        layout: Layout::Servers { servers },
        clients,
        network: net,
        lossy,
        max_crashes: crashes,
        max_round,
        variant,
    }
    .into_model()
    .checker()
    .threads(2);
    fn show<C: Checker<PaxosModel>>(c: C, t: std::time::Instant) {
        let mut d: Vec<_> = c.discoveries().into_keys().collect();
        d.sort();
        println!(
            "unique={} total={} depth={} secs={:.1} discoveries={:?}",
            c.unique_state_count(),
            c.state_count(),
            c.max_depth(),
            t.elapsed().as_secs_f64(),
            d
        );
    }
    let mut so = std::io::stdout();
    let mut w = stateright::report::WriteReporter::new(&mut so);
    if dfs {
        show(b.spawn_dfs().join_and_report(&mut w), t)
    } else {
        show(b.spawn_bfs().join_and_report(&mut w), t)
    };
}
