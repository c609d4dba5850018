//! Running stateright's checkers on a model: progress while it runs, then each property's
//! verdict and a readable, numbered trace for every discovery.
use serde::Serialize;
use stateright::actor::{Actor, ActorModel, ActorModelAction};
use stateright::report::{ReportData, ReportDiscovery, Reporter};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path, UniformChooser};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::hash::Hash;
use std::io::Write;
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

impl Strategy {
    /// Whether a run that finishes has explored every reachable state.
    pub fn is_exhaustive(self) -> bool {
        self != Strategy::Simulation
    }
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
    /// Print progress to standard error while checking.
    pub progress: bool,
    /// The seed of the simulation strategy.
    pub seed: u64,
}

/// A function from a state to the representative of its symmetry class.
pub type Representative<M> = fn(&<M as Model>::State) -> <M as Model>::State;

/// A model that the runner can check and explain.
pub trait Checkable: Model + Send + Sync + Sized + 'static
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

impl<M: Model> Reporter<M> for Progress {
    fn report_checking(&mut self, data: ReportData) {
        let (last_time, last_states) = self.last.unwrap_or_default();
        let due = data.duration >= last_time + Duration::from_secs(3);
        if !self.enabled || data.done || !due {
            return;
        }
        let rate = (data.total_states - last_states) as f64
            / (data.duration - last_time).as_secs_f64().max(1e-3);
        self.last = Some((data.duration, data.total_states));
        let _ = writeln!(
            std::io::stderr(),
            "  [{:>5.0}s] states={} unique={} depth={} rate={}/s",
            data.duration.as_secs_f64(),
            thousands(data.total_states),
            thousands(data.unique_states),
            data.max_depth,
            thousands(rate as usize),
        );
    }

    fn report_discoveries(&mut self, _: &M, _: BTreeMap<&'static str, ReportDiscovery<M>>)
    where
        M::Action: Debug + PartialEq,
        M::State: Debug + Hash + PartialEq,
    {
    }

    /// How often the checker is polled; progress is printed every 3 seconds.
    fn delay(&self) -> Duration {
        Duration::from_millis(100)
    }
}

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
    M: Checkable,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let symmetry = settings.symmetry.then(|| model.symmetry()).flatten();
    let mut builder = model.checker().threads(settings.threads.max(1));
    if let Some(representative) = symmetry {
        // stateright's BFS ignores symmetry; `Settings::symmetry` is refused with BFS upstream.
        builder = builder.symmetry_fn(representative);
    }
    if let Some(timeout) = settings.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(names) = &settings.finish_when {
        builder = builder.finish_when(HasDiscoveries::AllOf(names.clone()));
    }
    let mut progress = Progress {
        enabled: settings.progress,
        last: None,
    };
    let start = Instant::now();
    match settings.strategy {
        Strategy::Bfs => finish(builder.spawn_bfs(), &mut progress, start, settings),
        Strategy::Dfs => finish(builder.spawn_dfs(), &mut progress, start, settings),
        Strategy::Simulation => finish(
            builder.spawn_simulation(settings.seed, UniformChooser),
            &mut progress,
            start,
            settings,
        ),
    }
}

fn finish<M, C>(checker: C, progress: &mut Progress, start: Instant, settings: &Settings) -> Outcome
where
    M: Checkable,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
    C: Checker<M> + Send + Sync,
{
    let checker = checker.join_and_report(progress);
    let elapsed = start.elapsed();
    let model = checker.model();
    let discoveries = checker.discoveries();
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
    let timed_out = !stopped_early
        && settings
            .timeout
            .is_some_and(|t| elapsed + Duration::from_millis(50) >= t);
    Outcome {
        strategy: settings.strategy,
        threads: settings.threads,
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
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
    M: Checkable,
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
