//! The `paxos check` command line: verdicts, traces, and exit statuses scripts can trust.
use paxos::model::catalogue;
use paxos::model::check::thousands;
use std::path::PathBuf;
use std::process::{Command, Output};

fn paxos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paxos"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs paxos")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A model file in a fresh temporary directory, removed when dropped. Reads as its path.
struct TempModel {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl std::ops::Deref for TempModel {
    type Target = PathBuf;

    fn deref(&self) -> &PathBuf {
        &self.path
    }
}

fn temp_model(name: &str, contents: &str) -> TempModel {
    let dir = tempfile::Builder::new()
        .prefix(&format!("paxos-cli-{name}-"))
        .tempdir()
        .expect("creates a temp dir");
    let path = dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, contents).expect("writes the model");
    TempModel { _dir: dir, path }
}

/// The unique-state count `models/NAME.toml` pins.
fn pinned(name: &str) -> usize {
    catalogue::load(Some(name))
        .expect("loads")
        .file
        .expect
        .unique_states
        .expect("a pinned count")
}

#[test]
fn a_correct_model_as_recorded_exits_0() {
    let out = paxos(&[
        "check",
        "paxos-3-servers-2-clients-ordered",
        "--threads",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("PASS: every property is as recorded."),
        "{stdout}"
    );
    let count = thousands(pinned("paxos-3-servers-2-clients-ordered"));
    assert!(stdout.contains(&count), "{stdout}");
}

#[test]
fn a_caught_bug_exits_1_with_a_numbered_counterexample() {
    let out = paxos(&["check", "paxos-bug-invent-value", "--threads", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Counterexample for \"validity\""),
        "{stdout}"
    );
    assert!(stdout.contains("    1. "), "{stdout}");
    assert!(stdout.contains("/#/steps/0/"), "{stdout}");
    assert!(stdout.contains("as recorded for this model"), "{stdout}");
    // What the file does not record, the run (stopped at the counterexample) does not decide,
    // and the report says so; an exclusion is printed with the file's reason.
    assert!(stdout.contains("agreement"), "{stdout}");
    assert!(stdout.contains("not decided"), "{stdout}");
    assert!(
        stdout.contains("refines Voting: the run stops at the recorded counterexamples"),
        "{stdout}"
    );
}

// A model file that neither records nor excludes a property its model reports would let that
// property pass unjudged: it does not load, and the message names the file, the properties
// and both ways to account for them.
#[test]
fn a_model_file_that_leaves_a_property_unjudged_exits_2() {
    let model =
        std::fs::read_to_string("models/paxos-3-servers-2-clients-ordered.toml").expect("reads");
    let missing = model
        .replace("P1a = \"holds\"\n", "")
        .replace("\"read after put\" = \"unreached\"\n", "");
    let path = temp_model("unjudged", &missing);
    let out = paxos(&["check", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for needle in [
        "unjudged.toml",
        "'P1a' (always)",
        "'read after put' (sometimes)",
        "[expect.properties]",
        "[expect.not_judged]",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
}

#[test]
fn a_result_not_as_recorded_exits_1() {
    let model =
        std::fs::read_to_string("models/paxos-3-servers-2-clients-ordered.toml").expect("reads");
    let count = pinned("paxos-3-servers-2-clients-ordered");
    let wrong = model
        .replace("agreement = \"holds\"", "agreement = \"violated\"")
        .replace(&format!("unique_states = {count}"), "unique_states = 1");
    let path = temp_model("wrong-expectation", &wrong);
    let out = paxos(&["check", path.to_str().expect("utf-8"), "--threads", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAIL: not as recorded: agreement, unique states."),
        "{stdout}"
    );
}

// The default model is walked from a fixed seed until a fixed number of states, on one
// thread: two runs make the same walks, reach every witness, and pass.
#[test]
fn the_default_walks_are_the_same_on_every_run() {
    let runs: Vec<serde_json::Value> = (0..2)
        .map(|_| {
            let out = paxos(&["check", "--json"]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            serde_json::from_slice(&out.stdout).expect("valid JSON")
        })
        .collect();
    let walked = |run: &serde_json::Value| {
        let outcome = &run["outcome"];
        let properties = outcome["properties"].as_array().expect("a list");
        let traces: Vec<&serde_json::Value> = properties.iter().map(|p| &p["trace"]).collect();
        (
            outcome["states"].clone(),
            outcome["threads"].clone(),
            format!("{traces:?}"),
        )
    };
    assert_eq!(walked(&runs[0]), walked(&runs[1]));
    assert_eq!(runs[0]["outcome"]["threads"], 1);
    let properties = runs[0]["outcome"]["properties"].as_array().expect("a list");
    let witnesses: Vec<&serde_json::Value> = properties
        .iter()
        .filter(|p| p["expectation"] == "sometimes")
        .collect();
    assert_eq!(witnesses.len(), 9);
    assert!(witnesses.iter().all(|p| !p["trace"].is_null()));
}

#[test]
fn json_output_is_machine_readable() {
    let out = paxos(&[
        "check",
        "paxos-bug-invent-value",
        "--json",
        "--threads",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["as_recorded"], true);
    assert_eq!(json["exit_ok"], false);
    let properties = json["outcome"]["properties"].as_array().expect("a list");
    let validity = properties
        .iter()
        .find(|p| p["name"] == "validity")
        .expect("validity is reported");
    assert!(!validity["trace"]["steps"]
        .as_array()
        .expect("steps")
        .is_empty());
}

#[test]
fn bad_input_exits_2_and_says_what_to_fix() {
    let out = paxos(&["check", "no-such-model"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no model named 'no-such-model'"),
        "{stderr}"
    );
    assert!(stderr.contains("paxos-3-servers-2-clients"), "{stderr}");

    let model = std::fs::read_to_string("models/paxos-bug-invent-value.toml").expect("reads");
    let typo = model.replace("validity = ", "validty = ");
    let path = temp_model("typo", &typo);
    let out = paxos(&["check", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("'validty'") && stderr.contains("validity"),
        "{stderr}"
    );

    let path = temp_model("garbage", "protocol = [");
    let out = paxos(&["check", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not valid"));

    let out = paxos(&[
        "check",
        "paxos-3-servers-2-clients",
        "--strategy",
        "simulation",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--timeout"));

    let out = paxos(&["check", "--threads", "many"]);
    assert_eq!(out.status.code(), Some(2));
}

// An exhaustive check stopped at its timeout has its own exit status (3), with one thread too
// (stateright 0.31's DFS on one thread never looks at its own timeout: the watchdog stops it).
#[test]
fn an_exhaustive_run_stopped_by_the_timeout_proves_nothing() {
    for threads in ["2", "1"] {
        let out = paxos(&[
            "check",
            "paxos-3-servers-2-clients-reader",
            "--timeout",
            "1",
            "--threads",
            threads,
        ]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("stopped at the timeout"), "{stdout}");
        assert!(stdout.contains("INCONCLUSIVE"), "{stdout}");
        assert!(text(&out.stderr).contains("timed out after 1 s"));
    }
}

/// Runs the binary with `args`, its standard output a pipe whose reader is already gone (as
/// after `paxos models | head -3`): exit code and standard error.
fn paxos_into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_paxos"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("runs paxos");
    (out.status.code(), text(&out.stderr))
}

// A reader that stops early (`paxos models | head -3`) ends the output quietly: no panic, no
// error message, and the exit status the command would have had.
#[test]
fn a_closed_standard_output_stops_printing_quietly() {
    let (code, stderr) = paxos_into_closed_pipe(&["models"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    let (code, stderr) =
        paxos_into_closed_pipe(&["check", "paxos-bug-invent-value", "--threads", "2"]);
    assert_eq!(code, Some(1), "the verdict's status: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
}

// S1 (spec/runtime.md, "Key and value sizes"): `paxos client` refuses a Multi-Paxos key over
// 256 bytes or a value over 1,024 (UTF-8 bytes, not characters) before sending anything, with
// a usage error that names the limit. No server runs at the address: nothing is sent.
#[test]
fn a_key_or_value_over_its_limit_is_a_usage_error() {
    let client = |op: &[&str]| {
        let mut args = vec![
            "client",
            "--protocol",
            "multi-paxos",
            "--servers",
            "127.0.0.1:9",
            "--attempts",
            "1",
        ];
        args.extend_from_slice(op);
        paxos(&args)
    };
    let long_value = "v".repeat(1025);
    let out = client(&["put", "k", &long_value]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the value is 1025 bytes long; the limit is 1024 bytes"),
        "{stderr}"
    );
    // 129 two-byte characters: 258 bytes, over the key's 256.
    let long_key = "é".repeat(129);
    for op in [
        vec!["get", long_key.as_str()],
        vec!["append", long_key.as_str(), "v"],
    ] {
        let out = client(&op);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("the key is 258 bytes long; the limit is 256 bytes"),
            "{stderr}"
        );
    }
    // The single-decree register holds one character: a longer value is a usage error too.
    let out = paxos(&["client", "--servers", "127.0.0.1:9", "put", "AB"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("one character"));
}
