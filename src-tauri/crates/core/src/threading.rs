//! Normalisation used to tie messages into conversations.

/// Strips reply/forward prefixes (English, Italian, German, French, Spanish...) and list tags,
/// folds case and whitespace: "R: Re: [Shop] Ordine 123" and "ordine 123" match.
pub fn normalize_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let before = s;
        // A leading "[list-tag]".
        if let Some(rest) = s.strip_prefix('[')
            && let Some(end) = rest.find(']')
        {
            s = rest[end + 1..].trim_start();
        }
        // A leading "Re:", "RE[2]:", "Fwd:", "R:", "I:", "Rif:", "AW:", "WG:", "TR:", "RV:"...
        if let Some(colon) = s.find(':') {
            let head = s[..colon].trim();
            let word = head.split('[').next().unwrap_or("").trim().to_lowercase();
            const PREFIXES: &[&str] = &[
                "re", "r", "fw", "fwd", "i", "rif", "inoltro", "aw", "wg", "tr", "rv", "enc", "sv",
                "vs", "antw", "odp", "res",
            ];
            if PREFIXES.contains(&word.as_str()) {
                s = s[colon + 1..].trim_start();
            }
        }
        if s == before {
            break;
        }
    }
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Lower-cases an email address and trims the angle brackets some headers carry.
pub fn normalize_email(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase()
}

/// Trims a Message-ID to its bare `id@host` form, the form used as a thread key.
pub fn normalize_message_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// A one-line preview of a message text: whitespace folded, quoted lines dropped.
pub fn preview(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('>') || line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
        if out.chars().count() >= max_chars {
            break;
        }
    }
    let folded: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > max_chars {
        let cut: String = folded.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_prefixes_in_many_languages_are_stripped() {
        assert_eq!(normalize_subject("Re: Ordine 123"), "ordine 123");
        assert_eq!(normalize_subject("R: RE: I: Ordine  123"), "ordine 123");
        assert_eq!(
            normalize_subject("Fwd: [Negozio] Re[2]: Spedizione"),
            "spedizione"
        );
        assert_eq!(normalize_subject("AW: WG: Lieferung"), "lieferung");
        assert_eq!(normalize_subject("Rif: reso"), "reso");
        assert_eq!(normalize_subject(""), "");
    }

    #[test]
    fn subjects_that_merely_contain_a_colon_are_kept() {
        assert_eq!(normalize_subject("Ordine: 123"), "ordine: 123");
        assert_eq!(
            normalize_subject("Domanda su taglia: M o L?"),
            "domanda su taglia: m o l?"
        );
    }

    #[test]
    fn preview_skips_quotes_and_truncates() {
        assert_eq!(
            preview("Ciao!\n\n> vecchio testo\nGrazie", 80),
            "Ciao! Grazie"
        );
        let long = "parola ".repeat(50);
        let p = preview(&long, 20);
        assert!(p.ends_with('…'));
        assert!(p.chars().count() <= 20);
    }

    #[test]
    fn message_ids_and_addresses_are_normalised() {
        assert_eq!(normalize_message_id(" <abc@x.it> "), "abc@x.it");
        assert_eq!(
            normalize_email("<Mario.Rossi@Example.IT>"),
            "mario.rossi@example.it"
        );
    }
}
