//! Canned replies: `{{contact.first_name}}`, `{{shop.name}}`, `{{agent.name}}`... filled in
//! from the conversation and the care settings. A variable with no value never leaves a hole
//! ("Ciao ,"): it becomes its fallback (`{{contact.first_name|cliente}}`), or a visible marker
//! (`[nome]`) listed in `missing` so the composer can warn before sending — or, for automatic
//! replies, it is dropped together with the space before it ("Ciao," not "Ciao ,").

use std::collections::HashMap;

use serde::Serialize;
use ts_rs::TS;

/// The variables templates may use.
pub const VARIABLES: &[&str] = &[
    "contact.first_name",
    "contact.name",
    "shop.name",
    "agent.name",
    "conversation.subject",
];

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct RenderedTemplate {
    pub text: String,
    /// The language of the text used.
    pub language: String,
    /// Variables that had no value (shown as markers in `text`): warn before sending.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingVariable {
    /// A visible `[nome]` marker, listed in `missing` (for a person to fix).
    Mark,
    /// Left out with the space before it (for automatic replies).
    Drop,
}

/// The marker shown for a variable with no value.
pub fn marker(variable: &str, language: &str) -> String {
    let it = language != "en";
    let label = match variable {
        "contact.first_name" if it => "nome",
        "contact.first_name" => "first name",
        "contact.name" if it => "nome cliente",
        "contact.name" => "customer name",
        "shop.name" if it => "nome negozio",
        "shop.name" => "shop name",
        "agent.name" if it => "tuo nome",
        "agent.name" => "your name",
        "conversation.subject" if it => "oggetto",
        "conversation.subject" => "subject",
        other => other,
    };
    format!("[{label}]")
}

/// Fills `{{ var }}` and `{{ var|fallback }}` in `text` from `values` (empty values count as
/// missing). Text outside the braces is kept as written.
pub fn render(
    text: &str,
    values: &HashMap<&str, String>,
    language: &str,
    mode: MissingVariable,
) -> RenderedTemplate {
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + 2 + len];
        rest = &rest[start + 2 + len + 2..];
        let (name, fallback) = match inner.split_once('|') {
            Some((n, f)) => (n.trim(), Some(f.trim())),
            None => (inner.trim(), None),
        };
        match values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => match fallback.filter(|f| !f.is_empty()) {
                Some(f) => out.push_str(f),
                None => {
                    if !missing.iter().any(|m| m == name) {
                        missing.push(name.to_string());
                    }
                    match mode {
                        MissingVariable::Mark => out.push_str(&marker(name, language)),
                        MissingVariable::Drop => {
                            // "Ciao {{x}}, ..." -> "Ciao, ..."; "{{x}} ciao" -> "ciao".
                            while out.ends_with(' ') {
                                out.pop();
                            }
                            if out.is_empty() || out.ends_with('\n') {
                                rest = rest.trim_start_matches(' ');
                            }
                        }
                    }
                }
            },
        }
    }
    out.push_str(rest);
    RenderedTemplate {
        text: out,
        language: language.to_string(),
        missing,
    }
}

/// The first name in a display name ("maria rossi" -> "Maria"); `None` when the name is an
/// address, a number or empty.
pub fn first_name(display_name: &str) -> Option<String> {
    let word = display_name
        .split(|c: char| c.is_whitespace() || c == ',')
        .find(|w| !w.is_empty())?
        .trim_matches(|c: char| c == '"' || c == '\'');
    if word.is_empty()
        || word.contains('@')
        || word.starts_with('+')
        || word.chars().any(|c| c.is_ascii_digit())
        || !word.chars().any(char::is_alphabetic)
    {
        return None;
    }
    let all_same_case = word.chars().all(|c| !c.is_alphabetic() || c.is_lowercase())
        || word.chars().all(|c| !c.is_alphabetic() || c.is_uppercase());
    if all_same_case {
        let mut chars = word.chars();
        let first = chars.next()?;
        Some(
            first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect(),
        )
    } else {
        Some(word.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(first: &str) -> HashMap<&'static str, String> {
        HashMap::from([
            ("contact.first_name", first.to_string()),
            ("shop.name", "Bottega Verde".to_string()),
            ("agent.name", String::new()),
        ])
    }

    #[test]
    fn variables_are_filled() {
        let r = render(
            "Ciao {{contact.first_name}}, grazie da {{ shop.name }}!",
            &values("Maria"),
            "it",
            MissingVariable::Mark,
        );
        assert_eq!(r.text, "Ciao Maria, grazie da Bottega Verde!");
        assert!(r.missing.is_empty());
    }

    #[test]
    fn a_missing_first_name_is_never_a_blank_greeting() {
        let t = "Ciao {{contact.first_name}}, il pacco è partito.\n{{agent.name}}";
        let marked = render(t, &values(""), "it", MissingVariable::Mark);
        assert_eq!(marked.text, "Ciao [nome], il pacco è partito.\n[tuo nome]");
        assert_eq!(marked.missing, vec!["contact.first_name", "agent.name"]);
        assert!(!marked.text.contains("Ciao ,"));
        let en = render(
            "Hi {{contact.first_name}},",
            &values(" "),
            "en",
            MissingVariable::Mark,
        );
        assert_eq!(en.text, "Hi [first name],");
        let dropped = render(t, &values(""), "it", MissingVariable::Drop);
        assert_eq!(dropped.text, "Ciao, il pacco è partito.\n");
        assert!(!dropped.text.contains(" ,"));
    }

    #[test]
    fn a_fallback_fills_a_missing_variable_silently() {
        let r = render(
            "Ciao {{contact.first_name|cliente}}!",
            &values(""),
            "it",
            MissingVariable::Mark,
        );
        assert_eq!(r.text, "Ciao cliente!");
        assert!(r.missing.is_empty());
    }

    #[test]
    fn unknown_variables_and_stray_braces() {
        let r = render(
            "Ordine {{order.id}} {{",
            &values("A"),
            "it",
            MissingVariable::Mark,
        );
        assert_eq!(r.text, "Ordine [order.id] {{");
        assert_eq!(r.missing, vec!["order.id"]);
    }

    #[test]
    fn first_names() {
        assert_eq!(first_name("maria rossi").as_deref(), Some("Maria"));
        assert_eq!(first_name("MARIA ROSSI").as_deref(), Some("Maria"));
        assert_eq!(
            first_name("Anna-Lisa De Luca").as_deref(),
            Some("Anna-Lisa")
        );
        assert_eq!(first_name("McDonald").as_deref(), Some("McDonald"));
        assert_eq!(first_name("maria@example.com"), None);
        assert_eq!(first_name("+39 347 1234567"), None);
        assert_eq!(first_name(""), None);
    }
}
