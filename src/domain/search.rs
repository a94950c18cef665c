//! How officers find a dossier by its applicant's name: names are folded (lower case, tone
//! marks and other diacritics taken off, `đ` as `d`) and cut into words, which the store keeps
//! beside each dossier; what an officer types is folded the same way and each word it holds
//! matches the start of one of the name's words. "nguyen van a", "Nguyễn Văn A" and "văn"
//! all find Nguyễn Văn An.

use unicode_normalization::UnicodeNormalization;

/// Words kept of one name, at most.
pub const MAX_WORDS: usize = 12;
/// Characters kept of one word, at most.
pub const MAX_WORD: usize = 40;

/// `text` folded: lower case, without diacritics, `đ` as `d`.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

/// The folded words of `text`, each once, in order: letters and digits, cut at
/// [`MAX_WORD`] characters, at most [`MAX_WORDS`] of them.
pub fn words(text: &str) -> Vec<String> {
    let folded = fold(text);
    let mut out: Vec<String> = Vec::new();
    for w in folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w: String = w.chars().take(MAX_WORD).collect();
        if !out.contains(&w) {
            out.push(w);
        }
        if out.len() == MAX_WORDS {
            break;
        }
    }
    out
}

/// The words that start with `prefix` lie in `[prefix, end)`: `end` is `prefix` with its
/// last character moved one code point on (a range an ordinary B-tree index serves on SQLite
/// and PostgreSQL alike, where `LIKE 'x%'` would need a collation of its own). `None` for an
/// empty prefix.
pub fn prefix_range(prefix: &str) -> Option<(String, String)> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = (u32::from(last) + 1..=0x10_FFFF).find_map(char::from_u32)?;
    chars.push(next);
    Some((prefix.to_owned(), chars.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_names_fold_to_plain_words() {
        assert_eq!(fold("Nguyễn Văn Đức"), "nguyen van duc");
        assert_eq!(fold("ĐẶNG THỊ HỒNG NHUNG"), "dang thi hong nhung");
        assert_eq!(
            words("Công ty TNHH Giải trí Sao Việt — chi nhánh 2"),
            ["cong", "ty", "tnhh", "giai", "tri", "sao", "viet", "chi", "nhanh", "2"]
        );
        assert_eq!(words("Lê  Lê, lê"), ["le"], "each word once");
        assert_eq!(words(" ,.- "), Vec::<String>::new());
        assert_eq!(words(&"a ".repeat(100)).len(), 1);
        let many: String = (0..30).map(|i| format!("w{i} ")).collect();
        assert_eq!(words(&many).len(), MAX_WORDS);
        assert_eq!(words(&"x".repeat(100))[0].len(), MAX_WORD);
    }

    #[test]
    fn a_prefix_covers_exactly_the_words_that_start_with_it() {
        let (from, to) = prefix_range("ngu").unwrap_or_default();
        assert_eq!((from.as_str(), to.as_str()), ("ngu", "ngv"));
        for inside in ["ngu", "nguyen", "nguzzz"] {
            assert!(inside >= from.as_str() && inside < to.as_str(), "{inside}");
        }
        for outside in ["ngt", "ngv", "ng", "nh"] {
            assert!(
                !(outside >= from.as_str() && outside < to.as_str()),
                "{outside}"
            );
        }
        assert_eq!(prefix_range(""), None);
    }
}
