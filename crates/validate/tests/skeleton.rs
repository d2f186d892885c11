//! The confusable skeleton that stores index (`key_skeleton`) takes a
//! table-driven path for ASCII keys; it must give exactly what Unicode TR39's
//! decomposing skeleton gives, or a store would miss look-alikes.

use proptest::prelude::*;
use userimport_validate::{fold_key, key_skeleton};

/// TR39's skeleton as `unicode_security` computes it, without the table.
fn decomposed(key: &str) -> String {
    unicode_security::skeleton(key).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_ascii_path_equals_the_decomposing_one(key in "[ -~]{0,40}") {
        prop_assert_eq!(key_skeleton(&key), decomposed(&key));
    }

    #[test]
    fn folded_keys_of_any_text_match_too(key in "\\PC{0,24}") {
        let folded = fold_key(&key);
        prop_assert_eq!(key_skeleton(&folded), decomposed(&folded));
    }
}

#[test]
fn every_printable_ascii_character_maps_as_tr39_says() {
    for b in 0x20u8..0x7f {
        let key = char::from(b).to_string();
        assert_eq!(key_skeleton(&key), decomposed(&key), "{key:?}");
    }
}
