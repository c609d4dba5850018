//! What the Explorer shows of a state: a page of plain text an auditor can read at a glance.
//!
//! stateright's Explorer shows, for every step, the model's `format_step` (its "outcome"), and
//! the state's `Debug` dump only when "Complete State?" is ticked. The checked model renders its
//! steps with [`render`]: the step that led here, in the words of `paxos check`'s numbered
//! trace; every `always` property this state violates, with the reason in protocol terms;
//! the `sometimes` properties it reaches; one table row per server; the clients; the messages
//! in flight, one a line; the timers; and the ghost record's summary (what is chosen and by
//! which acceptors, what was issued). The per-protocol parts are the [`Readable`]
//! implementations in [`paxos`] and [`multi_paxos`].
//!
//! The verdicts are the model's own properties run on this state, so that the Explorer says
//! "violated" exactly where `paxos check` does; the reasons are the view's, written to explain
//! the verdict, never to decide it. The raw dump stays one tick away.
use super::harness::{Actors, Harness, ModelState};
use crate::protocol::ballot::Ballot;
use stateright::actor::{Actor, ActorModel, Id};
use stateright::{Expectation, Model};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fmt::Write;
use std::hash::Hash;
use std::ops::Deref;

pub mod multi_paxos;
pub mod paxos;

/// A protocol harness whose model states the Explorer can show readably: a model cannot exist
/// without its Explorer page.
pub trait Readable: Harness {
    /// Writes the servers' table, the clients, and the ghost summary of `state`.
    fn tables(model: &Actors<Self>, state: &ModelState<Self>, out: &mut Page);

    /// Why the `always` property `property` fails in `state`, in protocol terms; `None` where
    /// the view has nothing to add to the property's name.
    fn why_violated(
        property: &str,
        model: &Actors<Self>,
        state: &ModelState<Self>,
    ) -> Option<String>;
}

/// The Explorer's text for `state`, reached from `last` by the step `action` describes (none
/// for an initial state).
pub fn render<P, M>(
    model: &M,
    step: Option<(&str, &ModelState<P>)>,
    state: &ModelState<P>,
) -> String
where
    P: Readable,
    M: Model<State = ModelState<P>> + Deref<Target = Actors<P>>,
{
    let actors: &Actors<P> = model;
    let mut page = Page::default();
    if let Some((action, _)) = step {
        page.line(format!("step: {action}"));
    }
    let mut reached = Vec::new();
    let mut violated = 0;
    for property in model.properties() {
        let holds = (property.condition)(model, state);
        match property.expectation {
            Expectation::Always if !holds => {
                violated += 1;
                let why = P::why_violated(property.name, actors, state)
                    .unwrap_or_else(|| "it does not hold in this state".to_owned());
                page.line(format!("VIOLATED \"{}\": {why}", property.name));
            }
            Expectation::Sometimes if holds => reached.push(format!("\"{}\"", property.name)),
            _ => {}
        }
    }
    if violated == 0 {
        page.line("every always-property holds in this state".to_owned());
    }
    if !reached.is_empty() {
        page.line(format!("reached here: {}", reached.join(", ")));
    }
    page.blank();
    P::tables(actors, state, &mut page);
    page.blank();
    messages::<P>(actors, step.map(|(_, last)| last), state, &mut page);
    timers::<P>(actors, state, &mut page);
    page.text
}

/// The messages in flight, one a line, in the words of the trace; those the step sent marked
/// `+`.
fn messages<P: Harness>(
    model: &Actors<P>,
    last: Option<&ModelState<P>>,
    state: &ModelState<P>,
    page: &mut Page,
) {
    let lines = in_flight::<P>(model, state);
    let mut before: BTreeMap<&String, usize> = BTreeMap::new();
    let last_lines = last
        .map(|last| in_flight::<P>(model, last))
        .unwrap_or_default();
    for line in &last_lines {
        *before.entry(line).or_default() += 1;
    }
    page.line(format!(
        "messages in flight ({}; + sent by this step):",
        lines.len()
    ));
    if lines.is_empty() {
        page.line("  none".to_owned());
    }
    for line in &lines {
        let old = before.get_mut(line).filter(|n| **n > 0);
        let mark = match old {
            Some(n) => {
                *n -= 1;
                ' '
            }
            None if last.is_some() => '+',
            None => ' ',
        };
        page.line(format!("{mark} {line}"));
    }
}

/// The messages in flight, formatted and sorted.
fn in_flight<P: Harness>(model: &Actors<P>, state: &ModelState<P>) -> Vec<String> {
    let envelopes = super::network::envelopes(&state.network);
    let mut lines: Vec<String> = envelopes
        .map(|e| {
            format!(
                "{} -> {}: {:?}",
                name(model, e.src),
                name(model, e.dst),
                e.msg
            )
        })
        .collect();
    lines.sort();
    lines
}

/// The timers set, by actor.
fn timers<P: Harness>(model: &Actors<P>, state: &ModelState<P>, page: &mut Page) {
    let set: Vec<String> = state
        .timers_set
        .iter()
        .enumerate()
        .filter_map(|(i, timers)| {
            let mut names: Vec<String> = timers.iter().map(|t| format!("{t:?}")).collect();
            names.sort();
            (!names.is_empty())
                .then(|| format!("{} {}", name(model, Id::from(i)), names.join(", ")))
        })
        .collect();
    let set = if set.is_empty() {
        "none".to_owned()
    } else {
        set.join("; ")
    };
    page.line(format!("timers set: {set}"));
}

/// An actor as the trace names it: its role, lower case, and its index (`server 0`,
/// `client 3`).
pub fn name<A, Cfg, H>(model: &ActorModel<A, Cfg, H>, id: Id) -> String
where
    A: Actor<Msg: Ord, Timer: Ord>,
    H: Clone + Debug + Hash,
{
    let i = usize::from(id);
    match model.actors.get(i) {
        Some(actor) => format!("{} {i}", actor.name().to_lowercase()),
        None => format!("{id:?}"),
    }
}

/// A ballot, or `-` for none yet.
pub fn ballot(b: Ballot) -> String {
    if b == Ballot::default() {
        "-".to_owned()
    } else {
        format!("{b:?}")
    }
}

/// `text`, or `none` for an empty list.
pub fn or_none(text: String) -> String {
    if text.is_empty() {
        "none".to_owned()
    } else {
        text
    }
}

/// `yes` or `no`.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Actor ids as a short list of indices: `0, 1, 2`.
pub fn ids<'a>(ids: impl IntoIterator<Item = &'a Id>) -> String {
    let ids: Vec<String> = ids
        .into_iter()
        .map(|i| usize::from(*i).to_string())
        .collect();
    ids.join(", ")
}

/// Plain text under construction, with fixed-width tables (the Explorer shows it in a
/// monospaced font, line breaks kept).
#[derive(Default)]
pub struct Page {
    text: String,
}

impl Page {
    /// Adds a line.
    pub fn line(&mut self, line: String) {
        self.text.push_str(line.trim_end());
        self.text.push('\n');
    }

    /// Adds an empty line.
    pub fn blank(&mut self) {
        self.text.push('\n');
    }

    /// Adds `rows` under `header` as a table, each column as wide as its widest cell.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(rows) {
            let mut line = String::new();
            for (cell, w) in row.iter().zip(&widths) {
                let _ = write!(line, "{cell:<w$}  ");
            }
            self.line(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_pads_each_column_to_its_widest_cell() {
        let mut page = Page::default();
        page.table(
            &["", "promised"],
            &[
                vec!["server 0".to_owned(), "(1, 0)".to_owned()],
                vec!["server 10".to_owned(), "-".to_owned()],
            ],
        );
        assert_eq!(
            page.text,
            "           promised\nserver 0   (1, 0)\nserver 10  -\n"
        );
    }

    #[test]
    fn ids_read_as_indices() {
        assert_eq!(ids(&[Id::from(0), Id::from(2)]), "0, 2");
    }
}
