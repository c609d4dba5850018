//! Trace validation (spec/runtime.md, T1-T2, V1-V5): a real run's traces replay through the
//! model, and deliberately tampered copies are rejected at the tampered line. One small
//! loopback run (3 single-decree nodes, one put, a kill -9 and restart, a get) makes the
//! traces; the tampering is deterministic on top of them.
mod common;

use common::{run_binary, temp_dir, Cluster, TempDir};
use paxos::runtime::client::Op;
use paxos::runtime::node::Protocol;
use paxos::validate::validate;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The traces of one run, made once for every test of this file (a static is never dropped,
/// so this one directory outlives the tests).
fn recorded() -> &'static Path {
    static TRACES: OnceLock<TempDir> = OnceLock::new();
    TRACES.get_or_init(|| {
        let mut cluster = Cluster::start(Protocol::Paxos, 3, "trace");
        let put = cluster.client_of(0).call(Op::Put('A'));
        assert!(put.is_ok(), "{put:?}");
        // D2: node 0 promised and accepted before the kill; it restarts from that storage.
        cluster.kill(0);
        cluster.restart(0);
        let get = cluster.client_of(0).call(Op::Get);
        assert!(get.is_ok(), "{get:?}");
        for i in 0..3 {
            cluster.kill(i);
        }
        let copy = temp_dir("trace-recorded");
        copy_dir(&cluster.trace_dir(), &copy);
        copy
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("created");
    for entry in std::fs::read_dir(from).expect("traces") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, to.join(name)).expect("copied");
    }
}

/// Every line of every trace: file, 1-based line number, JSON.
fn lines(dir: &Path) -> Vec<(PathBuf, usize, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("traces")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut all = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("text");
        for (i, line) in text.lines().enumerate() {
            all.push((
                file.clone(),
                i + 1,
                serde_json::from_str(line).expect("JSON"),
            ));
        }
    }
    all
}

/// A copy of the recorded traces with line `line` of `file` replaced by `value`.
fn tampered(tag: &str, file: &Path, line: usize, value: &Value) -> TempDir {
    let dir = temp_dir(tag);
    copy_dir(recorded(), &dir);
    let path = dir.join(file.file_name().expect("a file name"));
    let text = std::fs::read_to_string(&path).expect("text");
    let mut out: Vec<String> = text.lines().map(str::to_owned).collect();
    out[line - 1] = value.to_string();
    std::fs::write(&path, out.join("\n") + "\n").expect("written");
    dir
}

/// The verdict on `dir`, which must be a rejection naming `file:line`.
fn rejected_at(dir: &Path, file: &Path, line: usize, why: &str) {
    let verdict = validate(dir).expect("the traces read");
    assert!(!verdict.ok, "tampering went unnoticed: {}", verdict.report);
    let at = format!(
        "{}:{line}:",
        dir.join(file.file_name().expect("name")).display()
    );
    let first = verdict.report.lines().next().unwrap_or_default();
    assert!(
        first.contains(&at) && first.contains(why),
        "expected a rejection at {at} ({why}), got:\n{}",
        verdict.report
    );
    assert!(
        verdict.report.contains("the events before it"),
        "{}",
        verdict.report
    );
}

// V1-V5: the untouched run validates, and through the binary exits 0.
#[test]
fn a_recorded_run_validates() {
    let verdict = validate(recorded()).expect("the traces read");
    assert!(verdict.ok, "{}", verdict.report);
    assert!(verdict.report.contains("1 restarts"), "{}", verdict.report);
    let scratch = temp_dir("trace-cli");
    let dir = recorded().to_string_lossy().into_owned();
    let (code, stderr) = run_binary(&["validate", &dir], &scratch);
    assert_eq!(code, Some(0), "{stderr}");
}

// V2: a message received from a peer that no node recorded sending is a divergence at the
// receive.
#[test]
fn a_receive_with_no_send_is_rejected() {
    let (file, line, mut value) = lines(recorded())
        .into_iter()
        .find(|(_, _, v)| v["event"] == "receive" && v["msg"].get("Promise").is_some())
        .expect("a proposer received a promise");
    value["msg"]["Promise"]["ballot"]["round"] = Value::from(77);
    let dir = tampered("trace-nosend", &file, line, &value);
    rejected_at(&dir, &file, line, "a receive with no send");
}

// V4, D2: a restart from storage older than what the node saved (here, none: the amnesia
// rule D2 exists to stop) is a divergence at the restart.
#[test]
fn a_restart_with_older_storage_is_rejected() {
    let (file, line, mut value) = lines(recorded())
        .into_iter()
        .find(|(_, line, v)| v["event"] == "start" && *line > 1)
        .expect("node 0 restarted");
    assert!(!value["storage"].is_null(), "it restarted from storage");
    value["storage"] = Value::Null;
    let dir = tampered("trace-amnesia", &file, line, &value);
    rejected_at(&dir, &file, line, "amnesia");
}

// V4 (P2b's premise): an acceptor that reports an `Accepted` for a proposal it never accepted
// is a divergence at that acceptor's step.
#[test]
fn an_accepted_never_accepted_is_rejected() {
    let (file, line, mut value) = lines(recorded())
        .into_iter()
        .find(|(_, _, v)| {
            v["event"] == "receive"
                && v["sent"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|pair| pair[1].get("Accepted").is_some()))
        })
        .expect("an acceptor sent Accepted");
    for pair in value["sent"].as_array_mut().expect("sent") {
        if let Some(accepted) = pair[1].get_mut("Accepted") {
            accepted["proposal"]["value"] = Value::from("Z");
        }
    }
    let dir = tampered("trace-accepted", &file, line, &value);
    rejected_at(&dir, &file, line, "the model's actor did not send");
}

// Bad input exits 2 (as `paxos check` does), a divergence 1.
#[test]
fn exit_codes_are_those_of_check() {
    let scratch = temp_dir("trace-exit");
    let empty = scratch.join("empty");
    std::fs::create_dir_all(&empty).expect("created");
    let (code, stderr) = run_binary(&["validate", &empty.to_string_lossy()], &scratch);
    assert_eq!(code, Some(2), "{stderr}");
    let garbage = scratch.join("garbage");
    std::fs::create_dir_all(&garbage).expect("created");
    std::fs::write(garbage.join("x.trace.jsonl"), "{not json\n").expect("written");
    let (code, stderr) = run_binary(&["validate", &garbage.to_string_lossy()], &scratch);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("x.trace.jsonl:1"), "{stderr}");
    let (file, line, mut value) = lines(recorded())
        .into_iter()
        .find(|(_, line, v)| v["event"] == "start" && *line > 1)
        .expect("node 0 restarted");
    value["storage"] = Value::Null;
    let dir = tampered("trace-exit-amnesia", &file, line, &value);
    let (code, stderr) = run_binary(&["validate", &dir.to_string_lossy()], &scratch);
    assert_eq!(code, Some(1), "{stderr}");
}

// T2, V4: a node's first save is recorded whole, every later one as what changed, and the
// validator rebuilds each save from the previous one: a change the model's actor did not make
// is a divergence at that step.
#[test]
fn saves_are_recorded_as_changes_and_checked() {
    let all = lines(recorded());
    let saves: Vec<&Value> = all.iter().map(|(_, _, v)| &v["saved"]).collect();
    let whole = saves.iter().filter(|s| s.get("whole").is_some()).count();
    let changes = saves.iter().filter(|s| s.get("changes").is_some()).count();
    assert!(whole <= 3, "one whole save per node at most, not {whole}");
    assert!(changes > 0, "later saves are recorded as changes");
    let (file, line, mut value) = all
        .into_iter()
        .find(|(_, _, v)| v["saved"].get("changes").is_some())
        .expect("a save recorded as changes");
    value["saved"]["changes"][0]["promised"]["round"] = Value::from(77);
    let dir = tampered("trace-changes", &file, line, &value);
    rejected_at(
        &dir,
        &file,
        line,
        "the node saved what the model's actor did not",
    );
}
