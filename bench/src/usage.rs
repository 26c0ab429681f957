//! The command line the harness takes: the figures and the flags each one
//! knows. Checked before anything starts, so that a mistyped flag, or
//! `--help`, stops with the list instead of running an hour-long figure
//! without it.

/// Each figure (`""`: the main run), its switches and its options with a
/// value (numbers are checked where they are read).
const FIGURES: &[(&str, &[&str], &[&str])] = &[
    ("", &["--quick"], &[]),
    ("annuaire", &[], &["--lines", "--search-only"]),
    ("mailboxes", &["--quick", "--million"], &[]),
    ("indicator", &["--quick"], &[]),
    ("stock", &["--quick"], &[]),
    ("nodes", &["--quick"], &[]),
    ("smtp", &["--reuse", "--mss-only"], &["--size", "--connections", "--messages", "--runs", "--prefill"]),
    ("append", &[], &["--count", "--runs", "--prefill", "--after-search"]),
    ("unseen", &[], &["--messages", "--runs"]),
    ("fetch", &[], &["--messages", "--runs"]),
];

/// What every figure takes.
const SWITCHES: &[&str] = &["--shared-network"];
const OPTIONS: &[&str] = &["--out"];

/// What is wrong with `args`, if anything.
pub fn problem(args: &[String]) -> Option<String> {
    let (figure, flags) = match args.split_first() {
        Some((first, rest)) if !first.starts_with("--") => (first.as_str(), rest),
        _ => ("", args),
    };
    let Some((_, switches, options)) = FIGURES.iter().find(|(name, ..)| *name == figure) else {
        return Some(format!("{figure} is not a figure"));
    };
    let mut rest = flags.iter();
    while let Some(flag) = rest.next() {
        let flag = flag.as_str();
        if SWITCHES.contains(&flag) || switches.contains(&flag) {
            continue;
        }
        if !(OPTIONS.contains(&flag) || options.contains(&flag)) {
            return Some(format!("{flag} is not a flag of this figure"));
        }
        if rest.next().is_none() {
            return Some(format!("{flag} needs a value"));
        }
    }
    None
}

/// The figures and their flags, one line each.
pub fn text() -> String {
    let mut text = String::from(
        "usage: mss-bench [FIGURE] [FLAGS] (bench/README.md); every figure takes --out DIR and --shared-network\n",
    );
    for (figure, switches, options) in FIGURES {
        let options = options.iter().map(|o| format!("{o} VALUE"));
        let flags: Vec<String> = switches.iter().map(|s| s.to_string()).chain(options).collect();
        text.push_str(&format!("  {:<10} {}\n", if figure.is_empty() { "(none)" } else { figure }, flags.join(" ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::problem;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn known_flags_pass_and_the_rest_stop_the_run() {
        for good in [
            "",
            "--quick --out /tmp/x",
            "mailboxes --million",
            "smtp --size 200 --reuse --shared-network",
            "smtp --size 200 --connections 1 --prefill 72000 --mss-only",
        ] {
            assert_eq!(problem(&args(good)), None, "{good}");
        }
        for (bad, why) in [
            ("mailboxes --help", "--help is not a flag of this figure"),
            ("--help", "--help is not a flag of this figure"),
            ("mailbox --quick", "mailbox is not a figure"),
            ("smtp --million", "--million is not a flag of this figure"),
            ("append --count", "--count needs a value"),
            ("smtp --reuse --prefill", "--prefill needs a value"),
            ("append --size 10", "--size is not a flag of this figure"),
            ("--out", "--out needs a value"),
        ] {
            assert_eq!(problem(&args(bad)).as_deref(), Some(why), "{bad}");
        }
    }
}
