//! Phone numbers as E.164 (`+393471234567`), so the same customer on WhatsApp, Twilio and in an
//! email signature is one contact. Numbers written without a country code are read as Italian,
//! the shop's default region.

use phonenumber::country::Id;

/// Normalises a number as a person writes it (`347 123 4567`, `0039 347...`, `+39 (0)2...`).
/// `None` when it is not a plausible phone number.
pub fn normalize_phone(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let trimmed = trimmed
        .strip_prefix("whatsapp:")
        .or_else(|| trimmed.strip_prefix("tel:"))
        .unwrap_or(trimmed)
        .trim();
    if trimmed.is_empty() || !trimmed.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let cleaned: String = trimmed
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    // "00" is the international prefix in Italy and most of Europe.
    let cleaned = match cleaned.strip_prefix("00") {
        Some(rest) if !trimmed.starts_with('+') => format!("+{rest}"),
        _ => cleaned,
    };
    let parsed = phonenumber::parse(Some(Id::IT), &cleaned).ok()?;
    if !phonenumber::is_valid(&parsed) {
        // Keep plausible international numbers the metadata does not know yet.
        let digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
        return (cleaned.starts_with('+') && (8..=15).contains(&digits.len()))
            .then(|| format!("+{digits}"));
    }
    Some(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// A number a platform gives in international form without the `+` (WhatsApp's `wa_id`,
/// `16505551234`), or with it (Twilio's `whatsapp:+16505551234`).
pub fn from_international(input: &str) -> String {
    let s = input.trim();
    let s = s.strip_prefix("whatsapp:").unwrap_or(s);
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return s.to_string();
    }
    let plus = format!("+{digits}");
    normalize_phone(&plus).unwrap_or(plus)
}

/// Whether an identity value is an E.164 number (`+` and 8 to 15 digits).
pub fn is_e164(value: &str) -> bool {
    value
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

/// Words that make a line about something other than a phone: VAT and tax codes, IBANs,
/// order and tracking numbers, dates.
const NOT_A_PHONE: &[&str] = &[
    "iva",
    "vat",
    "fiscale",
    "c.f",
    "iban",
    "ordine",
    "order",
    "tracking",
    "spedizione n",
    "fattura",
    "invoice",
    "cap ",
    "rea",
    "codice",
    "code",
    "pratica",
    "n°",
    "nr.",
    "#",
];

/// Words that announce a phone number on the same line.
const PHONE_WORDS: &[&str] = &[
    "tel",
    "cell",
    "phone",
    "mobile",
    "mob",
    "whatsapp",
    "telefono",
    "cellulare",
    "numero",
    "chiamami",
    "call me",
    "☎",
    "📞",
    "📱",
];

/// Phone numbers a customer wrote in a message (a signature, "chiamami al 347..."), as E.164.
///
/// Careful on purpose, because a wrong number would suggest merging two different people:
/// quoted lines are skipped, lines about VAT numbers, IBANs, orders or invoices are skipped,
/// a number must be announced ("tel", "cell", "📞"...) or be in the signature (after `-- ` or
/// in the last lines), start with `+`/`00` or look like an Italian mobile (3xx) or landline
/// (0x), and be valid for its region.
pub fn phones_in_text(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('>'))
        .collect();
    // Stop at the start of a quoted original ("Il giorno ... ha scritto:", "On ... wrote:").
    let end = lines
        .iter()
        .position(|l| {
            let l = l.to_lowercase();
            (l.ends_with("ha scritto:") || l.ends_with("wrote:")) || l.starts_with("-----original")
        })
        .unwrap_or(lines.len());
    let lines = &lines[..end];
    let signature_from = lines
        .iter()
        .position(|l| *l == "--" || *l == "-- ")
        .unwrap_or(lines.len().saturating_sub(6));
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let lower = line.to_lowercase();
        if NOT_A_PHONE.iter().any(|w| lower.contains(w)) {
            continue;
        }
        let announced = PHONE_WORDS.iter().any(|w| lower.contains(w));
        if !announced && i < signature_from {
            continue;
        }
        for candidate in candidates(line) {
            let digits: String = candidate.chars().filter(char::is_ascii_digit).collect();
            let international = candidate.starts_with('+') || candidate.starts_with("00");
            let italian_shape = digits.starts_with('3') && (9..=10).contains(&digits.len())
                || digits.starts_with('0') && (6..=11).contains(&digits.len());
            if !international && !italian_shape {
                continue;
            }
            if let Some(e164) = normalize_phone(&candidate)
                && !found.contains(&e164)
            {
                found.push(e164);
            }
        }
    }
    found
}

/// Runs of digits with the separators people put in numbers (`+39 347 123.45.67`,
/// `(02) 1234-5678`), at least 8 digits long.
fn candidates(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        let t = cur
            .trim()
            .trim_end_matches(['-', '.', '/', '('])
            .to_string();
        if t.chars().filter(char::is_ascii_digit).count() >= 8 {
            out.push(t);
        }
        cur.clear();
    };
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let starts = c == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() || starts || (!cur.is_empty() && " .-/()".contains(c)) {
            // A letter glued to the digits ("A12345678") is a code, not a number.
            if cur.is_empty() && i > 0 && chars[i - 1].is_alphanumeric() {
                continue;
            }
            cur.push(c);
        } else {
            // A letter right after a digit ("12345678A") makes the run a code.
            let glued = c.is_alphanumeric() && i > 0 && chars[i - 1].is_ascii_digit();
            if glued {
                cur.clear();
            } else {
                flush(&mut cur, &mut out);
            }
        }
    }
    flush(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_in_the_signature_is_found() {
        let body =
            "Buongiorno, il pacco non è arrivato.\n\nGrazie\n--\nMaria Rossi\nCell. 347 123 4567";
        assert_eq!(phones_in_text(body), vec!["+393471234567"]);
        let announced = "Se serve chiamami al +39 (0)2 1234.5678 dopo le 18.\nCiao\nMaria";
        assert_eq!(phones_in_text(announced), vec!["+390212345678"]);
    }

    #[test]
    fn numbers_that_are_not_phones_are_ignored() {
        // An order number, a VAT number, an IBAN, a date, a quoted number.
        let body = "Ordine 3471234567 non arrivato\nP.IVA 01234567890\n\
                    IBAN IT60X0542811101000000123456\nData 12/03/2024\n\
                    > tel 347 765 4321\nCiao";
        assert!(
            phones_in_text(body).is_empty(),
            "{:?}",
            phones_in_text(body)
        );
        // A long number in the middle of the text with no word announcing it.
        let middle = "Il codice del reso è 3331234567 e ve lo mando.\nA\nB\nC\nD\nE\nF\nG\nCiao";
        assert!(phones_in_text(middle).is_empty());
    }

    #[test]
    fn the_quoted_original_is_not_read() {
        let body = "Grazie!\nIl giorno 3 marzo Negozio ha scritto:\nTel 02 1234 5678";
        assert!(phones_in_text(body).is_empty());
    }

    #[test]
    fn e164_shape() {
        assert!(is_e164("+393471234567"));
        assert!(!is_e164("393471234567"));
        assert!(!is_e164("+39 347"));
    }

    #[test]
    fn italian_numbers_get_the_country_code() {
        assert_eq!(
            normalize_phone("347 123 4567").as_deref(),
            Some("+393471234567")
        );
        assert_eq!(
            normalize_phone("+39 347-123-4567").as_deref(),
            Some("+393471234567")
        );
        assert_eq!(
            normalize_phone("0039 347 1234567").as_deref(),
            Some("+393471234567")
        );
        // Landlines keep their leading zero in Italy.
        assert_eq!(
            normalize_phone("02 1234 5678").as_deref(),
            Some("+390212345678")
        );
        assert_eq!(
            normalize_phone("whatsapp:+393471234567").as_deref(),
            Some("+393471234567")
        );
    }

    #[test]
    fn foreign_numbers_stay_foreign() {
        assert_eq!(
            normalize_phone("+1 650-555-1234").as_deref(),
            Some("+16505551234")
        );
        assert_eq!(
            normalize_phone("+44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn garbage_is_not_a_number() {
        assert_eq!(normalize_phone(""), None);
        assert_eq!(normalize_phone("ciao"), None);
    }

    #[test]
    fn wa_ids_become_e164() {
        assert_eq!(from_international("16505551234"), "+16505551234");
        assert_eq!(from_international("393471234567"), "+393471234567");
        assert_eq!(
            from_international("whatsapp:+393471234567"),
            "+393471234567"
        );
    }
}
