//! Byte tests eight bytes at a time: eight bytes read as one little-endian
//! `u64`, tested with a few additions and masks instead of a branch a byte.

/// `0x01` in every byte of a word.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// True when `word_ok` holds for every whole word of eight bytes of
/// `bytes` and `byte_ok` for each byte left over after them.
pub(crate) fn all_bytes(
    bytes: &[u8],
    word_ok: impl Fn(u64) -> bool,
    byte_ok: impl Fn(u8) -> bool,
) -> bool {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(word);
        if !word_ok(u64::from_le_bytes(b)) {
            return false;
        }
    }
    words.remainder().iter().all(|&b| byte_ok(b))
}
