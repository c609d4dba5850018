//! F1 of `spec/runtime.md`: a fault injector for tests, in the guard's send and receive path,
//! on the traffic between cluster members only. It drops, duplicates and delays (hence
//! reorders) the datagrams a node sends to its peers, and cuts a node off from its peers while
//! a file exists (a partition the test starts and heals). Enabled only by the hidden
//! `paxos spawn --test-faults PLAN` flag; without it the guard holds no fault layer at all.
//!
//! Why not a UDP proxy between the nodes: a node knows its peers by the source address of
//! their datagrams (H2) and authenticates the sender's address with the MAC (A1). A proxy
//! re-sends from its own socket, so every node would see the proxy, not the peer, as the
//! sender: the proxy would have to be configured as every peer at once, which breaks H2, the
//! MAC's binding and the protocol's ids (a ballot names its proposer by address). Injecting
//! the faults where the node sends and receives keeps every source address real.
use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the fault layer does, as `--test-faults` gives it:
/// `drop=P,duplicate=P,delay=P,delay-ms=LO-HI,partition-file=PATH,seed=N` (every part
/// optional; P a probability from 0 to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// The chance that a datagram to a peer is lost.
    pub drop: f64,
    /// The chance that a datagram not lost is sent twice.
    pub duplicate: f64,
    /// The chance that each copy is held back for a while in `delay_for`: later datagrams
    /// overtake it.
    pub delay: f64,
    /// How long a delayed copy is held (drawn at random by `spawn`'s timers).
    pub delay_for: Range<Duration>,
    /// While this file exists, the node neither sends to nor receives from its peers.
    pub partition_file: Option<PathBuf>,
    /// Seeds the layer's random draws.
    pub seed: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            drop: 0.0,
            duplicate: 0.0,
            delay: 0.0,
            delay_for: Duration::from_millis(1)..Duration::from_millis(20),
            partition_file: None,
            seed: 1,
        }
    }
}

/// A `--test-faults` plan that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--test-faults: {0}; expected e.g. \
     drop=0.05,duplicate=0.05,delay=0.2,delay-ms=1-30,partition-file=PATH,seed=7"
)]
pub struct PlanError(pub String);

impl FromStr for FaultPlan {
    type Err = PlanError;

    fn from_str(s: &str) -> Result<FaultPlan, PlanError> {
        let mut plan = FaultPlan::default();
        let probability = |key: &str, value: &str| -> Result<f64, PlanError> {
            match value.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
                _ => Err(PlanError(format!(
                    "{key}={value} is not a probability from 0 to 1"
                ))),
            }
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(PlanError(format!("{part:?} is not KEY=VALUE")));
            };
            match key {
                "drop" => plan.drop = probability(key, value)?,
                "duplicate" => plan.duplicate = probability(key, value)?,
                "delay" => plan.delay = probability(key, value)?,
                "delay-ms" => {
                    let range = value
                        .split_once('-')
                        .and_then(|(lo, hi)| Some((lo.parse::<u64>().ok()?, hi.parse().ok()?)))
                        .filter(|(lo, hi)| lo < hi);
                    let Some((lo, hi)) = range else {
                        return Err(PlanError(format!("delay-ms={value} is not LO-HI, LO < HI")));
                    };
                    plan.delay_for = Duration::from_millis(lo)..Duration::from_millis(hi);
                }
                "partition-file" => plan.partition_file = Some(PathBuf::from(value)),
                "seed" => {
                    plan.seed = value
                        .parse()
                        .map_err(|_| PlanError(format!("seed={value} is not a number")))?
                }
                _ => return Err(PlanError(format!("unknown fault {key:?}"))),
            }
        }
        Ok(plan)
    }
}

/// How often the partition file is looked for, at most.
const PARTITION_CHECK: Duration = Duration::from_millis(5);

/// A plan in force: its random draws and the partition's state. Shared by the nodes of one
/// process.
#[derive(Debug)]
pub struct Faults {
    plan: FaultPlan,
    /// splitmix64's state: one atomic add per draw.
    rng: AtomicU64,
    /// Numbers the delayed copies, so that two copies of one datagram are two timers.
    next_copy: AtomicU64,
    started: Instant,
    /// When the partition file was last looked for, in microseconds since `started`.
    checked_at: AtomicU64,
    partitioned: AtomicBool,
    /// Datagrams to peers so far: all, lost (partition included), doubled, copies delayed.
    counts: [AtomicU64; 4],
}

impl Faults {
    /// The fault layer that follows `plan`.
    pub fn new(plan: FaultPlan) -> Faults {
        let seed = plan.seed;
        let faults = Faults {
            plan,
            rng: AtomicU64::new(seed),
            next_copy: AtomicU64::new(0),
            started: Instant::now(),
            checked_at: AtomicU64::new(0),
            partitioned: AtomicBool::new(false),
            counts: Default::default(),
        };
        faults.look_for_partition();
        faults
    }

    /// A draw from splitmix64, as a number in `[0, 1)`.
    fn draw(&self) -> f64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn look_for_partition(&self) {
        let now = self.started.elapsed().as_micros() as u64;
        self.checked_at.store(now, Ordering::Relaxed);
        let exists = self
            .plan
            .partition_file
            .as_ref()
            .is_some_and(|file| file.exists());
        let was = self.partitioned.swap(exists, Ordering::Relaxed);
        if was != exists {
            log::warn!(
                "Test fault: {}. file={:?}",
                if exists {
                    "partitioned from the peers"
                } else {
                    "partition healed"
                },
                self.plan.partition_file
            );
        }
    }

    /// Whether the node is cut off from its peers now.
    pub fn partitioned(&self) -> bool {
        if self.plan.partition_file.is_some() {
            let now = self.started.elapsed().as_micros() as u64;
            let last = self.checked_at.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= PARTITION_CHECK.as_micros() as u64 {
                self.look_for_partition();
            }
        }
        self.partitioned.load(Ordering::Relaxed)
    }

    /// The fate of one datagram to a peer: one entry per copy to send (none when it is lost),
    /// each `None` to send at once or a delay to hold it for.
    pub fn copies(&self) -> Vec<Option<Range<Duration>>> {
        let copies: Vec<_> = if self.partitioned() || self.draw() < self.plan.drop {
            Vec::new()
        } else {
            let n = if self.draw() < self.plan.duplicate {
                2
            } else {
                1
            };
            (0..n)
                .map(|_| (self.draw() < self.plan.delay).then(|| self.plan.delay_for.clone()))
                .collect()
        };
        self.count(&copies);
        copies
    }

    /// Counts what became of one datagram; logs the totals every 10 datagrams (tests read
    /// them).
    fn count(&self, copies: &[Option<Range<Duration>>]) {
        let delayed = copies.iter().filter(|c| c.is_some()).count() as u64;
        let [all, lost, doubled, held] = &self.counts;
        let n = all.fetch_add(1, Ordering::Relaxed) + 1;
        lost.fetch_add(u64::from(copies.is_empty()), Ordering::Relaxed);
        doubled.fetch_add(u64::from(copies.len() == 2), Ordering::Relaxed);
        held.fetch_add(delayed, Ordering::Relaxed);
        if n % 10 == 0 {
            log::warn!(
                "Test faults so far. datagrams={n}, lost={}, duplicated={}, delayed={}",
                lost.load(Ordering::Relaxed),
                doubled.load(Ordering::Relaxed),
                held.load(Ordering::Relaxed)
            );
        }
    }

    /// A number for a delayed copy, unique in this process.
    pub fn copy_number(&self) -> u64 {
        self.next_copy.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_or_explain() {
        let plan: FaultPlan =
            "drop=0.1, duplicate=0.2,delay=0.3,delay-ms=2-40,partition-file=/tmp/p,seed=9"
                .parse()
                .expect("a valid plan");
        assert_eq!(
            plan,
            FaultPlan {
                drop: 0.1,
                duplicate: 0.2,
                delay: 0.3,
                delay_for: Duration::from_millis(2)..Duration::from_millis(40),
                partition_file: Some(PathBuf::from("/tmp/p")),
                seed: 9,
            }
        );
        assert_eq!("".parse::<FaultPlan>(), Ok(FaultPlan::default()));
        for bad in ["drop=2", "drop", "delay-ms=5-1", "jitter=0.1", "seed=x"] {
            assert!(bad.parse::<FaultPlan>().is_err(), "{bad}");
        }
    }

    // F1: the layer drops, duplicates and delays at about the rates asked.
    #[test]
    fn copies_follow_the_plan() {
        let faults = Faults::new(FaultPlan {
            drop: 0.2,
            duplicate: 0.25,
            delay: 0.5,
            ..FaultPlan::default()
        });
        let (mut lost, mut doubled, mut delayed, mut sent) = (0, 0, 0, 0);
        for _ in 0..10_000 {
            let copies = faults.copies();
            lost += usize::from(copies.is_empty());
            doubled += usize::from(copies.len() == 2);
            delayed += copies.iter().filter(|c| c.is_some()).count();
            sent += copies.len();
        }
        assert!((1_700..2_300).contains(&lost), "lost {lost}");
        assert!((1_700..2_300).contains(&doubled), "doubled {doubled}");
        assert!(
            delayed * 10 > sent * 4 && delayed * 10 < sent * 6,
            "delayed {delayed} of {sent}"
        );
        let none = Faults::new(FaultPlan::default());
        assert!((0..1000).all(|_| none.copies() == vec![None]));
    }

    // F1: the partition lasts while its file exists.
    #[test]
    fn a_partition_follows_its_file() {
        let file = std::env::temp_dir().join(format!("paxos-partition-{}", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let faults = Faults::new(FaultPlan {
            partition_file: Some(file.clone()),
            ..FaultPlan::default()
        });
        assert!(!faults.partitioned());
        std::fs::write(&file, b"").expect("written");
        std::thread::sleep(PARTITION_CHECK * 2);
        assert!(faults.partitioned());
        assert!(faults.copies().is_empty());
        std::fs::remove_file(&file).expect("removed");
        std::thread::sleep(PARTITION_CHECK * 2);
        assert!(!faults.partitioned());
    }
}
