//! Embedding userimport in a member site (seed 001): "Member batch process"
//! with a TOML profile that declares the site's member extension fields.
//!
//! ```sh
//! cargo run --example member_site
//! ```
//!
//! Uploads two Shift_JIS files keyed by member ID (blank = new member, delete
//! flag `1` deletes, random passwords for new members), then downloads the
//! members of two groups, in Shift_JIS, with chosen columns.

use userimport::parse::Charset;
use userimport::schema::Profile;
use userimport::sink::{Sink, SqliteSink};
use userimport::{ExportOptions, ImportOptions, Importer, OutputCharset, export};

/// `standard` + member-ID key + default group + plan, shoe size, birthday.
const PROFILE: &str = include_str!("profiles/members.toml");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = Profile::from_toml(PROFILE)?;
    let mut store = SqliteSink::open_in_memory()?;

    // Upload settings: charset Shift_JIS, "Randomly generated" passwords.
    let mut options = ImportOptions::default();
    options.charset = Charset::ShiftJis;
    options.plan.generate_passwords = true;
    let importer = Importer::builder(&profile).options(options).build();

    for (name, bytes) in [
        (
            "members_shift_jis.csv",
            &include_bytes!("data/member/members_shift_jis.csv")[..],
        ),
        (
            "update_shift_jis.csv",
            &include_bytes!("data/member/update_shift_jis.csv")[..],
        ),
    ] {
        let checked = importer.plan(bytes, &store)?;
        for issue in checked.errors() {
            println!(
                "{name} line {}: {} ({})",
                issue.line, issue.message, issue.code
            );
        }
        let plan = checked.plan.as_ref().expect("plan() keeps the plan");
        // "Send": all or nothing. Generated passwords are hashed here and
        // never shown.
        let outcome = store.apply(plan, &mut |_| true)?;
        println!(
            "{name}: {} new, {} updated, {} deleted, {} unchanged; new groups: {:?}",
            outcome.created,
            outcome.updated,
            outcome.deleted,
            outcome.unchanged,
            outcome.created_groups
        );
    }

    // Download: members of VIP or Members, chosen columns, Shift_JIS.
    let mut download = ExportOptions::default();
    download.groups = vec!["VIP".into(), "Members".into()];
    download.columns = [
        "member_id",
        "name",
        "groups",
        "plan",
        "shoe_size",
        "birthday",
    ]
    .map(String::from)
    .to_vec();
    let charset = OutputCharset::parse("shift_jis").expect("a known charset");
    let mut file = Vec::new();
    let written = export(&profile, &store, &download, charset, &mut file)?;
    // Shown decoded here; a site would send `file` as the download.
    let (text, _, _) = charset.encoding().decode(&file);
    println!(
        "\ndownload ({written} members, {} bytes of Shift_JIS):\n{text}",
        file.len()
    );
    Ok(())
}
