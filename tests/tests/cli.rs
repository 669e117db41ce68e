//! The command line on files alone (no engine needed).

use std::process::Command;

use turnout_e2e::{PlanBuilder, container, temp_dir, turnout_bin};

/// A plan in environment `env` at `stage`: a MariaDB and versions future
/// and dao, each with its own database on it.
fn plan(name: &str, env: &str, stage: &str) -> String {
    PlanBuilder::new(name)
        .environment(env, stage)
        .infrastructure(container("db", "m").engine("mariadb"))
        .version("future", |v| v.database("users", "db", "future_users"))
        .version("dao", |v| v.database("users", "db", "dao_users"))
        .yaml()
}

#[test]
fn sync_refuses_to_move_data_back_to_an_earlier_stage_before_touching_anything() {
    let dir = temp_dir("cli-promotion");
    let (prod, local) = (dir.join("prod.yaml"), dir.join("local.yaml"));
    std::fs::write(&prod, plan("prod", "production", "prod")).unwrap();
    std::fs::write(&local, plan("local", "local", "dev")).unwrap();
    let out = Command::new(turnout_bin())
        .args(["sync", "--from", "future", "--to", "dao", "--source-plan"])
        .arg(&prod)
        .arg(&local)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("earlier stage") && text.contains("--force"),
        "{text}"
    );
    assert!(
        !dir.join("state").join("turnout.lock").exists(),
        "refused before taking the host lock"
    );
}

#[test]
fn validate_exit_codes_and_json() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let ok = Command::new(turnout_bin())
        .arg("validate")
        .arg(examples.join("three-versions.yaml"))
        .output()
        .unwrap();
    assert!(ok.status.success());
    let bad = Command::new(turnout_bin())
        .args(["validate", "-o", "json"])
        .arg(examples.join("original-plan.yaml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(
        v["documents"][0]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["port"] == 9200)
    );
}

/// `turnout ARGS`, which must succeed; its stdout.
fn stdout_of(args: &[&str]) -> String {
    let out = Command::new(turnout_bin())
        .args(args)
        .output()
        .expect("turnout runs");
    assert!(
        out.status.success(),
        "turnout {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The commands `turnout --help` lists (without `help` itself).
fn commands() -> Vec<String> {
    let help = stdout_of(&["--help"]);
    let listed: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    for known in [
        "validate",
        "ports",
        "standalone",
        "run",
        "plan",
        "apply",
        "import",
        "status",
        "sync",
        "backups",
        "restore",
        "crds",
        "completions",
        "man",
    ] {
        assert!(listed.iter().any(|c| c == known), "{known} in {listed:?}");
    }
    listed
}

/// The long flags `turnout --help` lists: the global ones (and --help, --version).
fn global_flags() -> Vec<String> {
    let help = stdout_of(&["--help"]);
    let flags: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Options:")
        .filter(|l| l.trim_start().starts_with('-'))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        .map(str::to_string)
        .collect();
    for known in ["--engine", "--log-format"] {
        assert!(flags.iter().any(|f| f == known), "{known} in {flags:?}");
    }
    flags
}

/// What bash completes for `turnout WORDS...` with the script loaded, the
/// way bash calls a completion function (the last word is being typed).
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let n = words.len();
    let program = format!(
        "source '{}'; COMP_WORDS=(turnout {}); COMP_CWORD={n}; _turnout turnout '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words[n - 1],
        if n > 1 { words[n - 2] } else { "turnout" },
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash is installed (the completion test runs the script in it)");
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_bash_completion_script_completes_every_command_and_their_flags() {
    let dir = temp_dir("cli-completions");
    let script = dir.join("turnout.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).unwrap();
    for command in commands() {
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(
            text.contains(&format!("turnout,{command})")),
            "the script has a case for {command}"
        );
        let typed = &command[..command.len() - 1];
        let offered = bash_completes(&script, &[typed]);
        assert!(
            offered.contains(&command),
            "`turnout {typed}<TAB>` offers {command}: {offered:?}"
        );
    }
    assert_eq!(
        bash_completes(&script, &["sync", "--allow"]),
        vec!["--allow-overwrite-newer"]
    );
    assert_eq!(
        bash_completes(&script, &["--eng"]),
        vec!["--engine", "--engine-certs"]
    );
    assert_eq!(
        bash_completes(&script, &["apply", "x.yaml", "--engine-c"]),
        vec!["--engine-certs"],
        "a global flag after the command too"
    );
}

#[test]
fn the_zsh_and_fish_scripts_name_every_command() {
    let zsh = stdout_of(&["completions", "zsh"]);
    let fish = stdout_of(&["completions", "fish"]);
    assert!(zsh.starts_with("#compdef turnout"), "{}", &zsh[..40]);
    for command in commands() {
        assert!(zsh.contains(&format!("'{command}:")), "zsh: {command}");
        assert!(
            fish.contains(&format!(
                "__fish_turnout_needs_command\" -f -a \"{command}\""
            )),
            "fish: {command}"
        );
    }
}

/// roff writes a hyphen as `\-`.
fn unroff(page: &str) -> String {
    page.replace("\\-", "-")
}

#[test]
fn the_man_page_names_every_command_and_global_flag() {
    let page = unroff(&stdout_of(&["man"]));
    assert!(page.contains(".TH turnout 1"), "{page}");
    let subcommands = page
        .split(".SH SUBCOMMANDS")
        .nth(1)
        .expect("a SUBCOMMANDS section");
    for command in commands() {
        assert!(
            subcommands.contains(&format!("turnout-{command}(1)")),
            "{command} in {subcommands}"
        );
    }
    for flag in global_flags() {
        assert!(
            page.contains(&format!("\\fB{flag}\\fR")),
            "{flag} in {page}"
        );
    }
    assert!(page.contains("\\fBDOCKER_HOST\\fR environment variable"));
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = temp_dir("cli-man").join("man1");
    let dir_arg = dir.display().to_string();
    for _ in 0..2 {
        // A second run replaces the pages.
        let listed = stdout_of(&["man", "--out", &dir_arg]);
        assert_eq!(listed.lines().count(), commands().len() + 1, "{listed}");
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = commands()
        .iter()
        .map(|c| format!("turnout-{c}.1"))
        .chain(["turnout.1".to_string()])
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    let sync = unroff(&std::fs::read_to_string(dir.join("turnout-sync.1")).unwrap());
    assert!(sync.contains(".TH turnout-sync 1"), "{sync}");
    for flag in [
        "--from",
        "--allow-overwrite-newer",
        "--state-dir",
        "--engine",
    ] {
        assert!(
            sync.contains(&format!("\\fB{flag}\\fR")),
            "{flag} in {sync}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("turnout.1")).unwrap(),
        stdout_of(&["man"]),
        "turnout.1 is the page `turnout man` prints"
    );
}
