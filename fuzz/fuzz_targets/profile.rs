//! TOML bytes → `Profile::from_toml`: never panics; a profile that loads
//! writes back to TOML that loads to the same profile, and its template
//! writes and checks without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userimport::schema::Profile;
use userimport::sink::MemorySink;
use userimport::{Importer, OutputCharset, write_template};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(profile) = Profile::from_toml(text) else {
        return;
    };
    let toml = profile.to_toml().expect("a loaded profile writes back");
    let again = Profile::from_toml(&toml).expect("written TOML loads again");
    assert_eq!(profile, again);
    if profile.columns.len() > 200 {
        return;
    }
    let Ok(template) = write_template(&profile, OutputCharset::UTF8, Vec::new()) else {
        return;
    };
    let importer = Importer::builder(&profile).build();
    let _ = importer.check(&template[..], &MemorySink::new());
});
