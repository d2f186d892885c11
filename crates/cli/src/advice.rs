//! The command-line advice the library leaves out: which flag answers an
//! issue. Library messages say what is wrong; the CLI adds how to ask for
//! something else.

use userimport::validate::Issue;

/// Issue code → the flag that changes the outcome, and what it does.
const ADVICE: &[(&str, &str)] = &[
    (
        "password.missing",
        "--generate-passwords gives new users without a password a random one",
    ),
    (
        "password.ignored",
        "--update-passwords also changes existing users' passwords",
    ),
    (
        "sync.threshold",
        "--max-delete PCT raises the share of users sync may remove",
    ),
    (
        "card_id.invalid",
        "--card-id-type hex reads card IDs as hexadecimal",
    ),
    (
        "group.unknown",
        "`userimport groups add NAME` creates a group first",
    ),
];

/// Prints, on stderr, one hint per kind of issue in `issues` that a flag
/// answers.
pub fn print_hints(issues: &[Issue]) {
    for (code, hint) in ADVICE {
        if issues.iter().any(|i| i.code == *code) {
            eprintln!("hint: {hint}");
        }
    }
}
