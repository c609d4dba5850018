//! Running stateright's checkers on a model: progress while it runs, then each property's
//! verdict and a readable, numbered trace for every discovery.
use serde::Serialize;
use stateright::actor::{Actor, ActorModel, ActorModelAction};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path, UniformChooser};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::hash::Hash;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the state space is explored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Breadth-first, exhaustive: shortest counterexamples (with one thread).
    Bfs,
    /// Depth-first, exhaustive: far less memory; supports symmetry reduction.
    Dfs,
    /// Random walks until the timeout: for spaces too large to exhaust.
    Simulation,
}

/// The strategy in words, as the check's report names it.
impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::Bfs => "breadth-first search",
            Strategy::Dfs => "depth-first search",
            Strategy::Simulation => "simulation (random walks)",
        })
    }
}

/// A reduction by the name `--without` takes.
impl std::fmt::Display for Reduction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        match self.to_possible_value() {
            Some(value) => f.write_str(value.get_name()),
            None => write!(f, "{self:?}"),
        }
    }
}

impl Strategy {
    /// Whether a run that finishes has explored every reachable state.
    pub fn is_exhaustive(self) -> bool {
        self != Strategy::Simulation
    }
}

/// A reduction of the state space that a check may leave out, to compare (spec/reductions.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Reduction {
    /// The model's symmetry reduction, where its file turns it on.
    Symmetry,
    /// No actor storage in the states of a model without crashes.
    ForgetStorage,
    /// Linearizability judged on a summary of the clients' history, not the whole history.
    HistorySummary,
    /// No message in the network that its receiver ignores in every state it can reach.
    InertMessages,
}

impl Reduction {
    /// Every reduction.
    pub const ALL: [Reduction; 4] = [
        Reduction::Symmetry,
        Reduction::ForgetStorage,
        Reduction::HistorySummary,
        Reduction::InertMessages,
    ];
}

/// How one check runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How the state space is explored.
    pub strategy: Strategy,
    /// How many checker threads.
    pub threads: usize,
    /// Stop after this long; a simulation runs until then.
    pub timeout: Option<Duration>,
    /// Stop as soon as all of these properties have discoveries.
    pub finish_when: Option<BTreeSet<&'static str>>,
    /// Symmetry reduction (DFS and simulation only), where the model offers it.
    pub symmetry: bool,
    /// The reductions to leave out (every other one that applies is used; symmetry only with
    /// `symmetry`): see spec/reductions.md.
    pub without: Vec<Reduction>,
    /// Print progress to standard error while checking.
    pub progress: bool,
    /// The seed of the simulation strategy.
    pub seed: u64,
    /// Stop a simulation once it has visited this many states.
    pub walk_states: Option<usize>,
}

impl Settings {
    /// `strategy` on one thread, to the end, with every reduction but symmetry, quietly: a
    /// check whose counts and traces are the same on every run.
    pub fn one_thread(strategy: Strategy) -> Self {
        Settings {
            strategy,
            threads: 1,
            timeout: None,
            finish_when: None,
            symmetry: false,
            without: Vec::new(),
            progress: false,
            seed: 0,
            walk_states: None,
        }
    }
}

/// A function from a state to the representative of its symmetry class.
pub type Representative<M> = fn(&<M as Model>::State) -> <M as Model>::State;

/// A model the runner ([`run`]) can check and explain.
pub trait Runnable: Model + Send + Sync + Sized + 'static
where
    Self::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    Self::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    /// One line for a step of a trace, naming actors by their role.
    fn describe(&self, action: &Self::Action) -> String;

    /// The representative of a state's symmetry class, if symmetry reduction is sound here.
    fn symmetry(&self) -> Option<Representative<Self>> {
        None
    }

    /// The path of action indices that the Explorer, serving this model afresh, follows along
    /// `path`.
    fn explorer_path(&self, path: &Path<Self::State, Self::Action>) -> String {
        path.encode(self)
    }

    /// What the model's judge recorded of `property`'s failure in `state`, the last state of
    /// its counterexample (the abstract step a refinement property refused): the trace's last
    /// step ends with it.
    fn finding(&self, property: &'static str, state: &Self::State) -> Option<String> {
        let _ = (property, state);
        None
    }

    /// Uses every reduction the model has except `without` (symmetry is [`Self::symmetry`]'s).
    fn reduce(&mut self, without: &[Reduction]) {
        let _ = without;
    }

    /// A switch that, once set, leaves every state without successors, so that a running
    /// checker runs out of work: the watchdog of [`run`] stops a check with it.
    fn stop_switch(&self) -> Option<Arc<AtomicBool>> {
        None
    }
}

/// A property's result.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyOutcome {
    /// The property's name: the claim it checks.
    pub name: &'static str,
    /// Whether it must hold always or be reached sometimes.
    #[serde(serialize_with = "serialize_expectation")]
    pub expectation: Expectation,
    /// The trace to the discovery: a counterexample for `Always`, an example for `Sometimes`.
    pub trace: Option<Trace>,
}

fn serialize_expectation<S: serde::Serializer>(e: &Expectation, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match e {
        Expectation::Always => "always",
        Expectation::Sometimes => "sometimes",
        Expectation::Eventually => "eventually",
    })
}

/// The verdict on a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// An `Always` property held in every state explored.
    Holds,
    /// An `Always` property failed: there is a counterexample.
    Violated,
    /// A `Sometimes` property was reached: there is an example.
    Reached,
    /// A `Sometimes` property was never reached.
    Unreached,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Reached => "reached",
            Verdict::Unreached => "unreached",
        })
    }
}

impl PropertyOutcome {
    /// What the discovery, or its absence, says of the property.
    pub fn verdict(&self) -> Verdict {
        match (&self.expectation, self.trace.is_some()) {
            (Expectation::Sometimes, true) => Verdict::Reached,
            (Expectation::Sometimes, false) => Verdict::Unreached,
            (_, true) => Verdict::Violated,
            (_, false) => Verdict::Holds,
        }
    }
}

/// A numbered trace of the steps to a discovery.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    /// Each step, described in one line.
    pub steps: Vec<String>,
    /// The path of action indices that stateright's Explorer opens at `#/steps/<path>`.
    pub explorer_path: String,
}

/// What one check found.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// How the state space was explored.
    pub strategy: Strategy,
    /// How many checker threads.
    pub threads: usize,
    /// The states generated, repeats included.
    pub states: usize,
    /// The distinct states (symmetry classes, with symmetry reduction).
    pub unique_states: usize,
    /// The longest path explored.
    pub max_depth: usize,
    /// The wall-clock time of the check.
    pub seconds: f64,
    /// The checker stopped at the timeout before exhausting the space.
    pub timed_out: bool,
    /// The checker stopped once the properties it was told to wait for were discovered.
    pub stopped_early: bool,
    /// Each property's result, in the order the model reports them.
    pub properties: Vec<PropertyOutcome>,
}

impl Outcome {
    /// Whether the search covered the whole space (so the counts are exact).
    pub fn exhaustive(&self) -> bool {
        self.strategy.is_exhaustive() && !self.timed_out && !self.stopped_early
    }

    /// The result of the property named `name`.
    pub fn property(&self, name: &str) -> Option<&PropertyOutcome> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// Prints progress to standard error every few seconds.
struct Progress {
    enabled: bool,
    last: Option<(Duration, usize)>,
}

impl Progress {
    /// Prints one line if one is due: every 3 seconds.
    fn report<M: Model>(&mut self, checker: &impl Checker<M>, elapsed: Duration) {
        let (last_time, last_states) = self.last.unwrap_or_default();
        if !self.enabled || elapsed < last_time + Duration::from_secs(3) {
            return;
        }
        let states = checker.state_count();
        let rate = (states - last_states) as f64 / (elapsed - last_time).as_secs_f64().max(1e-3);
        self.last = Some((elapsed, states));
        let _ = writeln!(
            std::io::stderr(),
            "  [{:>5.0}s] states={} unique={} depth={} rate={}/s",
            elapsed.as_secs_f64(),
            thousands(states),
            thousands(checker.unique_state_count()),
            checker.max_depth(),
            thousands(rate as usize),
        );
    }
}

/// How often the watchdog looks at a running check, at most: it starts at a millisecond and
/// doubles, so that a small check is not kept waiting.
const POLL: Duration = Duration::from_millis(50);

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks `model` with `settings`.
pub fn run<M>(model: M, settings: &Settings) -> Outcome
where
    M: Runnable,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let symmetry = (settings.symmetry && !settings.without.contains(&Reduction::Symmetry))
        .then(|| model.symmetry())
        .flatten();
    let mut model = model;
    model.reduce(&settings.without);
    let stop = model.stop_switch();
    let mut builder = model.checker().threads(settings.threads.max(1));
    if let Some(representative) = symmetry {
        // stateright's BFS ignores symmetry; `Settings::symmetry` is refused with BFS upstream.
        builder = builder.symmetry_fn(representative);
    }
    if let Some(timeout) = settings.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(states) = settings.walk_states {
        builder = builder.target_state_count(states);
    }
    if let Some(names) = &settings.finish_when {
        builder = builder.finish_when(HasDiscoveries::AllOf(names.clone()));
    }
    let mut progress = Progress {
        enabled: settings.progress,
        last: None,
    };
    let start = Instant::now();
    let watch = Watch {
        start,
        stop,
        progress: &mut progress,
    };
    match settings.strategy {
        Strategy::Bfs => finish(builder.spawn_bfs(), watch, settings),
        Strategy::Dfs => finish(builder.spawn_dfs(), watch, settings),
        Strategy::Simulation => finish(
            builder.spawn_simulation(settings.seed, UniformChooser),
            watch,
            settings,
        ),
    }
}

/// What watches a running check: when it started, the model's stop switch, the progress.
struct Watch<'a> {
    start: Instant,
    stop: Option<Arc<AtomicBool>>,
    progress: &'a mut Progress,
}

/// Waits for the checker, printing progress, and stops it at the timeout itself: stateright
/// 0.31's DFS looks at its timeout only when a thread runs out of work, which with one thread
/// is never. At the timeout the watchdog takes the discoveries and counts so far, then sets the
/// model's stop switch, so that the checker's threads run out of work and end by themselves
/// (they are not waited for).
fn finish<M, C>(mut checker: C, watch: Watch, settings: &Settings) -> Outcome
where
    M: Runnable,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
    C: Checker<M> + Send + Sync,
{
    let handles = checker.handles();
    let deadline = settings.timeout.map(|t| watch.start + t);
    let mut watchdog_fired = false;
    let mut poll = Duration::from_millis(1);
    while !handles.iter().all(|h| h.is_finished()) {
        watch.progress.report(&checker, watch.start.elapsed());
        if deadline.is_some_and(|d| Instant::now() >= d) {
            watchdog_fired = true;
            break;
        }
        std::thread::sleep(poll);
        poll = (poll * 2).min(POLL);
    }
    let elapsed = watch.start.elapsed();
    // Taken before the switch is set: a state without successors may look terminal.
    let discoveries = checker.discoveries();
    let (states, unique_states, max_depth) = (
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
    );
    if watchdog_fired {
        if let Some(stop) = &watch.stop {
            stop.store(true, Ordering::Relaxed);
        }
    } else {
        for handle in handles {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
    let model = checker.model();
    let properties = model
        .properties()
        .into_iter()
        .map(|p| PropertyOutcome {
            name: p.name,
            expectation: p.expectation,
            trace: discoveries.get(p.name).map(|path| {
                let path = &cut_at_finding(model, p.name, path);
                let mut steps: Vec<String> = path
                    .clone()
                    .into_actions()
                    .iter()
                    .map(|a| model.describe(a))
                    .collect();
                if let (Some(last), Some(finding)) =
                    (steps.last_mut(), model.finding(p.name, path.last_state()))
                {
                    last.push_str(&format!(": {finding}"));
                }
                Trace {
                    steps,
                    explorer_path: model.explorer_path(path),
                }
            }),
        })
        .collect::<Vec<_>>();
    let found: BTreeSet<&str> = discoveries.keys().copied().collect();
    let stopped_early = settings
        .finish_when
        .as_ref()
        .is_some_and(|names| !names.is_empty() && names.iter().all(|n| found.contains(n)));
    // stateright's own timeout may have ended the threads first (its BFS and simulation look
    // at it): a run that ends at or after the timeout is not exhaustive.
    let timed_out = !stopped_early
        && (watchdog_fired
            || settings
                .timeout
                .is_some_and(|t| elapsed + Duration::from_millis(50) >= t));
    Outcome {
        strategy: settings.strategy,
        threads: settings.threads,
        states,
        unique_states,
        max_depth,
        seconds: elapsed.as_secs_f64(),
        timed_out,
        stopped_early,
        properties,
    }
}

/// The prefix of `path` that ends at its first state where the judge recorded a finding for
/// `property` (the step that broke it: a checker running on several threads may discover a
/// later state first), or `path` itself.
fn cut_at_finding<M>(
    model: &M,
    property: &'static str,
    path: &Path<M::State, M::Action>,
) -> Path<M::State, M::Action>
where
    M: Runnable,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let steps = path.clone().into_vec();
    let Some(end) = steps
        .iter()
        .position(|(state, _)| model.finding(property, state).is_some())
    else {
        return path.clone();
    };
    let actions: Vec<M::Action> = steps[..end].iter().filter_map(|(_, a)| a.clone()).collect();
    Path::from_actions(model, steps[0].0.clone(), &actions).unwrap_or_else(|| path.clone())
}

/// Describes a step of an actor model, naming each actor by its role and index
/// (`"<actor name> <index>"`, as `server 0` or `client 3`).
pub(crate) fn describe_actor_step<A: Actor, C, H>(
    model: &ActorModel<A, C, H>,
    action: &ActorModelAction<A::Msg, A::Timer, A::Random>,
) -> String
where
    A::Msg: Ord,
    A::Timer: Ord,
    H: Clone + Debug + Hash,
{
    let names: Vec<String> = model
        .actors
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{} {i}", a.name().to_lowercase()))
        .collect();
    let name = |id: &stateright::actor::Id| {
        names
            .get(usize::from(*id))
            .cloned()
            .unwrap_or_else(|| format!("{id:?}"))
    };
    match action {
        ActorModelAction::Deliver { src, dst, msg } => {
            format!("{} receives {msg:?} from {}", name(dst), name(src))
        }
        ActorModelAction::Drop(env) => format!(
            "the network loses {:?} from {} to {}",
            env.msg,
            name(&env.src),
            name(&env.dst)
        ),
        ActorModelAction::Timeout(id, timer) => format!("{}: timer {timer:?} fires", name(id)),
        ActorModelAction::Crash(id) => format!("{} crashes", name(id)),
        ActorModelAction::Recover(id) => format!("{} restarts from its storage", name(id)),
        ActorModelAction::SelectRandom { actor, random, .. } => {
            format!("{} picks {random:?}", name(actor))
        }
    }
}
