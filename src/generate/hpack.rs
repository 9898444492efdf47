//! HPACK (RFC 7541) as far as a load generator needs it, with no dynamic table on either side.
//!
//! The request's header block is encoded once: static-table references and literals "without
//! indexing", so the server's table never holds an entry of ours and the same bytes serve every
//! stream. The generator announces `SETTINGS_HEADER_TABLE_SIZE` 0, so the server's encoder may
//! keep no entry either (§4.2): an answer's block is then read without any state, and only its
//! `:status` is decoded; every other field is stepped over by its lengths. A `:status` sent as a
//! Huffman literal is decoded by the code's digit symbols, the only ones a status may hold.

use std::fmt;

/// Why an answer's header block could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Ends inside a field, or an integer too large.
    Truncated,
    /// A reference to the dynamic table, or a table size above 0, which the generator's settings
    /// forbid.
    DynamicTable,
    /// Index 0, or past the static table.
    BadIndex,
    /// `:status` that is not three digits.
    BadStatus,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Truncated => "a header block that ends inside a field",
            DecodeError::DynamicTable => {
                "a header block that uses a dynamic table, after the generator set its size to 0"
            }
            DecodeError::BadIndex => "a header block that names a header by an unknown index",
            DecodeError::BadStatus => "a :status that is not three digits",
        })
    }
}

/// The static table's entries (RFC 7541 Appendix A) a request uses.
const AUTHORITY: usize = 1;
const METHOD_GET: usize = 2;
const METHOD_POST: usize = 3;
const METHOD: usize = 2;
const PATH_ROOT: usize = 4;
const PATH: usize = 4;
const SCHEME_HTTP: usize = 6;
const SCHEME_HTTPS: usize = 7;
/// `:status` is the name of entries 8 to 14, whose values are these.
const STATUS_NAME: usize = 8;
const STATUS_VALUES: [u16; 7] = [200, 204, 206, 304, 400, 404, 500];
const STATIC_ENTRIES: usize = 61;

/// Appends `value` as an integer with an `prefix`-bit prefix, the first byte's other bits set
/// to `flags` (§5.1).
fn integer(out: &mut Vec<u8>, flags: u8, prefix: u32, mut value: usize) {
    let most = (1usize << prefix) - 1;
    if value < most {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | most as u8);
    value -= most;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

/// A string literal, not Huffman-coded (§5.2).
fn string(out: &mut Vec<u8>, value: &[u8]) {
    integer(out, 0, 7, value.len());
    out.extend_from_slice(value);
}

/// A field as a literal: without indexing, or never indexed for a credential (§6.2.2, §6.2.3),
/// its name by a static index when it has one.
fn literal(out: &mut Vec<u8>, name_index: usize, name: &[u8], value: &[u8], sensitive: bool) {
    let flags = if sensitive { 0x10 } else { 0x00 };
    integer(out, flags, 4, name_index);
    if name_index == 0 {
        string(out, name);
    }
    string(out, value);
}

/// The header block of a request: the pseudo-headers, then `headers` (lower-case names, none of
/// the connection-specific ones), every field a static reference or a literal.
pub fn request_block<'a>(
    method: &str,
    https: bool,
    authority: &str,
    path: &str,
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match method {
        "GET" => integer(&mut out, 0x80, 7, METHOD_GET),
        "POST" => integer(&mut out, 0x80, 7, METHOD_POST),
        _ => literal(&mut out, METHOD, b"", method.as_bytes(), false),
    }
    integer(
        &mut out,
        0x80,
        7,
        if https { SCHEME_HTTPS } else { SCHEME_HTTP },
    );
    if path == "/" {
        integer(&mut out, 0x80, 7, PATH_ROOT);
    } else {
        literal(&mut out, PATH, b"", path.as_bytes(), false);
    }
    literal(&mut out, AUTHORITY, b"", authority.as_bytes(), false);
    for (name, value) in headers {
        let sensitive = matches!(name, "authorization" | "proxy-authorization" | "cookie");
        literal(&mut out, 0, name.as_bytes(), value, sensitive);
    }
    out
}

/// Reads an integer with a `prefix`-bit prefix at `block[*at]`, moving `at` past it.
fn read_integer(block: &[u8], at: &mut usize, prefix: u32) -> Result<usize, DecodeError> {
    let most = (1usize << prefix) - 1;
    let first = *block.get(*at).ok_or(DecodeError::Truncated)? as usize & most;
    *at += 1;
    if first < most {
        return Ok(first);
    }
    let mut value = most;
    let mut shift = 0;
    loop {
        let byte = *block.get(*at).ok_or(DecodeError::Truncated)?;
        *at += 1;
        // Four continuation bytes reach 2^28: more than any length a frame can hold.
        if shift > 21 {
            return Err(DecodeError::Truncated);
        }
        value += ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
}

/// Reads a string literal's bytes (still Huffman-coded when the flag says so).
fn read_string<'a>(block: &'a [u8], at: &mut usize) -> Result<(bool, &'a [u8]), DecodeError> {
    let huffman = block.get(*at).ok_or(DecodeError::Truncated)? & 0x80 != 0;
    let length = read_integer(block, at, 7)?;
    let bytes = block.get(*at..*at + length).ok_or(DecodeError::Truncated)?;
    *at += length;
    Ok((huffman, bytes))
}

/// The status of an answer's header block, `None` when it has none (trailers). Every field is
/// checked for its shape; only `:status` is decoded.
pub fn status(block: &[u8]) -> Result<Option<u16>, DecodeError> {
    let mut status = None;
    let mut at = 0;
    while at < block.len() {
        let first = block[at];
        if first & 0x80 != 0 {
            // Indexed field (§6.1).
            let index = read_integer(block, &mut at, 7)?;
            match index {
                0 => return Err(DecodeError::BadIndex),
                8..=14 => status = Some(STATUS_VALUES[index - STATUS_NAME]),
                _ if index > STATIC_ENTRIES => return Err(DecodeError::DynamicTable),
                _ => {}
            }
            continue;
        }
        if first & 0xe0 == 0x20 {
            // Dynamic table size update (§6.3): only to 0 is allowed here.
            if read_integer(block, &mut at, 5)? != 0 {
                return Err(DecodeError::DynamicTable);
            }
            continue;
        }
        // A literal: with incremental indexing (6-bit prefix; the entry is evicted at once from a
        // table of size 0), or without indexing or never indexed (4-bit prefix).
        let prefix = if first & 0x40 != 0 { 6 } else { 4 };
        let name_index = read_integer(block, &mut at, prefix)?;
        let is_status = match name_index {
            0 => {
                let (huffman, name) = read_string(block, &mut at)?;
                // `:status` is 7 bytes, 5 Huffman-coded.
                if huffman {
                    name == [0xb8, 0x84, 0x8d, 0x36, 0xa3]
                } else {
                    name == b":status"
                }
            }
            STATUS_NAME..=14 => true,
            _ if name_index > STATIC_ENTRIES => return Err(DecodeError::DynamicTable),
            _ => false,
        };
        let (huffman, value) = read_string(block, &mut at)?;
        if is_status {
            status = Some(if huffman {
                huffman_status(value)?
            } else {
                digits(value.iter().copied())?
            });
        }
    }
    Ok(status)
}

fn digits(mut value: impl Iterator<Item = u8>) -> Result<u16, DecodeError> {
    let mut status = 0u16;
    for _ in 0..3 {
        match value.next() {
            Some(digit @ b'0'..=b'9') => status = status * 10 + u16::from(digit - b'0'),
            _ => return Err(DecodeError::BadStatus),
        }
    }
    if value.next().is_some() || status < 100 {
        return Err(DecodeError::BadStatus);
    }
    Ok(status)
}

/// A Huffman-coded status (Appendix B): '0' to '2' are the 5-bit codes 0 to 2, '3' to '9' the
/// 6-bit codes 0b011001 to 0b011111; the last byte is padded with fewer than 8 one bits (§5.2).
fn huffman_status(coded: &[u8]) -> Result<u16, DecodeError> {
    let total = coded.len() * 8;
    let bit = |i: usize| u32::from(coded[i / 8] >> (7 - i % 8)) & 1;
    let peek = |at: usize, count: usize| (at..at + count).fold(0, |value, i| value << 1 | bit(i));
    let mut decoded = Vec::with_capacity(3);
    let mut at = 0;
    while total - at >= 5 && decoded.len() <= 3 {
        let digit = match peek(at, 5) {
            five @ 0..=2 => {
                at += 5;
                five
            }
            _ if total - at >= 6 && (0b011001..=0b011111).contains(&peek(at, 6)) => {
                at += 6;
                peek(at - 6, 6) - 0b011001 + 3
            }
            _ => break,
        };
        decoded.push(b'0' + digit as u8);
    }
    if total - at >= 8 || (at..total).any(|i| bit(i) == 0) {
        return Err(DecodeError::BadStatus);
    }
    digits(decoded.into_iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{Just, Strategy};

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn integers_are_encoded_as_rfc_7541_c_1_shows() {
        // C.1.1: 10 in a 5-bit prefix; C.1.2: 1337 in a 5-bit prefix; C.1.3: 42 at an octet.
        for (value, prefix, bytes) in [
            (10, 5, vec![0x0a]),
            (1337, 5, vec![0x1f, 0x9a, 0x0a]),
            (42, 8, vec![0x2a]),
        ] {
            let mut out = Vec::new();
            integer(&mut out, 0, prefix, value);
            assert_eq!(out, bytes);
            let mut at = 0;
            assert_eq!(read_integer(&bytes, &mut at, prefix), Ok(value));
            assert_eq!(at, bytes.len());
        }
    }

    #[test]
    fn rfc_7541_answers_give_their_status() {
        // C.5.1 (literals with indexing, no Huffman) and C.6.1 to C.6.3 (Huffman): "302", "307"
        // then an indexed 200, each block in full, the dynamic table's entries aside.
        let c51 = hex(
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
             6c65 2e63 6f6d",
        );
        assert_eq!(status(&c51), Ok(Some(302)));
        let c61 = hex(
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        );
        assert_eq!(status(&c61), Ok(Some(302)));
        assert_eq!(status(&hex("4883 640e ff")), Ok(Some(307)));
        // C.6.2 refers to its table's entries (c1, c0, bf): not allowed at a table size of 0.
        assert_eq!(
            status(&hex("4883 640e ffc1 c0bf")),
            Err(DecodeError::DynamicTable)
        );
        assert_eq!(status(&hex("88")), Ok(Some(200)));
        assert_eq!(status(&hex("8d")), Ok(Some(404)));
        // A size update to 0 first, as a server sends after the setting.
        assert_eq!(status(&hex("20 88")), Ok(Some(200)));
        assert_eq!(status(&hex("3fe1 1f 88")), Err(DecodeError::DynamicTable));
    }

    #[test]
    fn every_status_survives_huffman_coding() {
        // Codes from Appendix B: '0'-'2' 5 bits, '3'-'9' 6 bits.
        let code = |digit: u8| -> (u32, u32) {
            match digit {
                b'0'..=b'2' => (u32::from(digit - b'0'), 5),
                _ => (0b011001 + u32::from(digit - b'3'), 6),
            }
        };
        for status_code in 100..=999u16 {
            let text = status_code.to_string();
            let (mut bits, mut held) = (0u64, 0u32);
            for digit in text.bytes() {
                let (value, length) = code(digit);
                bits = (bits << length) | u64::from(value);
                held += length;
            }
            let padding = (8 - held % 8) % 8;
            bits = (bits << padding) | ((1 << padding) - 1);
            held += padding;
            let coded: Vec<u8> = (0..held / 8)
                .rev()
                .map(|i| (bits >> (i * 8)) as u8)
                .collect();
            let mut block = vec![0x08, 0x80 | coded.len() as u8];
            block.extend_from_slice(&coded);
            assert_eq!(status(&block), Ok(Some(status_code)), "{text}");
        }
    }

    #[test]
    fn malformed_blocks_are_refused_without_panicking() {
        assert_eq!(status(&hex("80")), Err(DecodeError::BadIndex));
        assert_eq!(status(&hex("be")), Err(DecodeError::DynamicTable));
        assert_eq!(status(&hex("0803 3230")), Err(DecodeError::Truncated));
        assert_eq!(status(&hex("0802 3230")), Err(DecodeError::BadStatus));
        assert_eq!(status(&hex("0803 3241 30")), Err(DecodeError::BadStatus));
        // Padding that is not ones, and padding of a whole byte.
        assert_eq!(status(&hex("0883 640e 80")), Err(DecodeError::BadStatus));
        assert_eq!(status(&hex("0883 6402 ff")), Err(DecodeError::BadStatus));
        assert_eq!(
            status(&hex("ff ff ff ff ff ff")),
            Err(DecodeError::Truncated)
        );
        // Trailers have no status.
        assert_eq!(status(&hex("4003 666f 6f03 6261 72")), Ok(None));
        for length in 0..64 {
            let block: Vec<u8> = (0..length).map(|i| (i * 37 + 11) as u8).collect();
            let _ = status(&block);
        }
    }

    #[test]
    fn a_request_block_uses_the_static_table_and_plain_literals() {
        let block = request_block(
            "GET",
            false,
            "www.example.com",
            "/",
            [("custom-key", b"custom-value".as_slice())].into_iter(),
        );
        // C.3.1's fields, `:authority` as a literal without indexing (C.2.2's form), then the
        // custom field as C.2.2 has it.
        let mut expected = hex("8286 84");
        expected.extend(hex("010f 7777 772e 6578 616d 706c 652e 636f 6d"));
        expected.extend(hex(
            "000a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ));
        assert_eq!(block, expected);
        let block = request_block(
            "PUT",
            true,
            "a",
            "/x",
            [("authorization", b"k".as_slice())].into_iter(),
        );
        assert_eq!(
            block,
            hex("0203 5055 5487 0402 2f78 0101 6110 0d61 7574 686f 7269 7a61 7469 6f6e 016b")
        );
    }

    proptest::proptest! {
        /// An answer's header block of any bytes: a status or an error, never a panic. The
        /// decoder keeps no state and allocates nothing but a status's few digits.
        #[test]
        fn never_panics_on_arbitrary_header_blocks(block in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Ok(Some(status)) = status(&block) {
                proptest::prop_assert!((100..=999).contains(&status), "{}", status);
            }
        }

        #[test]
        fn never_panics_on_blocks_shaped_like_hpack(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    (0x80u8..=0xff).prop_map(|index| vec![index]),
                    (0u8..0x40, 0u8..8, proptest::collection::vec(proptest::num::u8::ANY, 0..8))
                        .prop_map(|(first, length, bytes)| {
                            let mut part = vec![first, length];
                            part.extend(bytes);
                            part
                        }),
                    Just(vec![0x20]),
                    Just(vec![0x3f, 0xff, 0xff, 0xff, 0xff, 0x0f]),
                ],
                0..8,
            ),
        ) {
            let _ = status(&parts.concat());
        }
    }
}
