//! Phone numbers as E.164 (`+393471234567`), so the same customer on WhatsApp Cloud, Twilio
//! and in an email signature is one contact. Numbers written without a country code are read
//! as Italian, the shop's default region.

use phonenumber::country::Id;

/// Normalises a number as a person writes it (`347 123 4567`, `0039 347...`, `+39 (0)2...`).
/// `None` when it is not a plausible phone number.
pub fn normalize(input: &str) -> Option<String> {
    normalize_in(input, Id::IT)
}

pub fn normalize_in(input: &str, region: Id) -> Option<String> {
    let trimmed = input.trim();
    let trimmed = trimmed
        .strip_prefix("whatsapp:")
        .or_else(|| trimmed.strip_prefix("tel:"))
        .unwrap_or(trimmed)
        .trim();
    if trimmed.is_empty() || !trimmed.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    // "00" is the international prefix in Italy and most of Europe.
    let cleaned: String = trimmed
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let cleaned = match cleaned.strip_prefix("00") {
        Some(rest) if !trimmed.starts_with('+') => format!("+{rest}"),
        _ => cleaned,
    };
    let parsed = phonenumber::parse(Some(region), &cleaned).ok()?;
    if !phonenumber::is_valid(&parsed) {
        // Keep plausible international numbers the metadata does not know yet.
        let digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
        return (cleaned.starts_with('+') && (8..=15).contains(&digits.len()))
            .then(|| format!("+{digits}"));
    }
    Some(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// A number the platform gives in international form without the `+` (WhatsApp's `wa_id`,
/// `16505551234`), or with it (Twilio's `whatsapp:+16505551234`).
pub fn from_international(input: &str) -> String {
    let s = input.trim();
    let s = s.strip_prefix("whatsapp:").unwrap_or(s);
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return s.to_string();
    }
    let plus = format!("+{digits}");
    normalize_in(&plus, Id::IT).unwrap_or(plus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn italian_numbers_get_the_country_code() {
        assert_eq!(normalize("347 123 4567").as_deref(), Some("+393471234567"));
        assert_eq!(
            normalize("+39 347-123-4567").as_deref(),
            Some("+393471234567")
        );
        assert_eq!(
            normalize("0039 347 1234567").as_deref(),
            Some("+393471234567")
        );
        // Landlines keep their leading zero in Italy.
        assert_eq!(normalize("02 1234 5678").as_deref(), Some("+390212345678"));
        assert_eq!(
            normalize("whatsapp:+393471234567").as_deref(),
            Some("+393471234567")
        );
    }

    #[test]
    fn foreign_numbers_stay_foreign() {
        assert_eq!(
            normalize("+1 650-555-1234").as_deref(),
            Some("+16505551234")
        );
        assert_eq!(
            normalize("+44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn garbage_is_not_a_number() {
        assert_eq!(normalize(""), None);
        assert_eq!(normalize("ciao"), None);
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
