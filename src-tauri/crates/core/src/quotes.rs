//! Where an email's own words end: the quoted previous messages and the signature that the
//! thread view folds behind a "…" toggle.
//!
//! Plain text: `>` lines at the end with their attribution line ("On … wrote:", "Il giorno …
//! ha scritto:"), Outlook's header block ("From: … Sent: …", "Da: … Inviato: …") and
//! everything after it, and the `-- ` signature. Quotes interleaved with answers are never
//! folded (that would hide the answers). HTML: the markers Gmail, Apple Mail, Thunderbird and
//! Outlook put around a quote, which the sanitiser keeps so the view can hide them.

/// The line (0-based, lines split on `\n`) from which a message's text is quote or signature,
/// when there is something of the sender's own before it.
pub fn fold_line(text: &str) -> Option<usize> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let candidates = [
        trailing_quote(&lines),
        outlook_header(&lines),
        signature(&lines),
    ];
    let start = candidates.into_iter().flatten().min()?;
    lines[..start]
        .iter()
        .any(|l| !l.trim().is_empty())
        .then_some(start)
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// "On Tue, 14 May 2024 at 10:00, Mario <m@x.it> wrote:", "Il giorno mar 14 mag 2024 alle ore
/// 10:00 Mario <m@x.it> ha scritto:", "Il 14/05/2024 10:00, Mario ha scritto:", "Le … a
/// écrit :", "Am … schrieb …:" — on one line or wrapped on two.
fn is_attribution(text: &str) -> bool {
    let t = text.trim();
    let lower = t.to_lowercase();
    let ends = lower.ends_with("wrote:")
        || lower.ends_with("ha scritto:")
        || lower.ends_with("scritto:")
        || lower.ends_with("a écrit :")
        || lower.ends_with("a écrit:")
        || (lower.starts_with("am ") && lower.contains("schrieb") && lower.ends_with(':'));
    ends && t.chars().count() < 300
}

/// The last run of `>` lines (blank lines allowed), with the attribution above it.
fn trailing_quote(lines: &[&str]) -> Option<usize> {
    let mut start = lines.len();
    while start > 0 && (blank(lines[start - 1]) || is_quoted(lines[start - 1])) {
        start -= 1;
    }
    if !lines[start..].iter().any(|l| is_quoted(l)) {
        return None;
    }
    // Blank lines between the attribution and the quote are common.
    let mut above = start;
    while above > 0 && blank(lines[above - 1]) {
        above -= 1;
    }
    let opens = |line: &str| {
        let l = line.trim_start().to_lowercase();
        ["on ", "il ", "le ", "am "]
            .iter()
            .any(|p| l.starts_with(p))
    };
    if above >= 2
        && opens(lines[above - 2])
        && !opens(lines[above - 1])
        && is_attribution(&format!("{} {}", lines[above - 2], lines[above - 1]))
    {
        return Some(above - 2);
    }
    if above >= 1 && is_attribution(lines[above - 1]) {
        return Some(above - 1);
    }
    Some(start)
}

fn header_is(line: &str, names: &[&str]) -> bool {
    let l = line.trim().trim_start_matches('*').to_lowercase();
    names.iter().any(|n| {
        l.strip_prefix(n)
            .is_some_and(|rest| rest.trim_start_matches('*').starts_with(':'))
    })
}

/// Outlook's reply header: a From line followed within a few lines by Sent (or Date), maybe
/// under a "-----Original Message-----" line or a rule of underscores.
fn outlook_header(lines: &[&str]) -> Option<usize> {
    const FROM: &[&str] = &["from", "da", "de", "von"];
    const SENT: &[&str] = &[
        "sent", "date", "inviato", "data", "envoyé", "gesendet", "enviado",
    ];
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        let lower = l.to_lowercase();
        // A forwarded message's header block is the content, not a quote.
        if lower.contains("forwarded message") || lower.contains("messaggio inoltrato") {
            return None;
        }
        if lower.starts_with("-----original message")
            || lower.starts_with("-----messaggio originale")
            || lower.starts_with("----- original message")
            || lower.starts_with("----- messaggio originale")
        {
            return Some(i);
        }
        if header_is(l, FROM)
            && lines[i + 1..]
                .iter()
                .take(4)
                .any(|next| header_is(next, SENT))
        {
            let mut start = i;
            while start > 0 && blank(lines[start - 1]) {
                start -= 1;
            }
            if start > 0 && lines[start - 1].trim().chars().all(|c| c == '_') {
                return Some(start - 1);
            }
            return Some(i);
        }
    }
    None
}

/// The signature delimiter (`-- `, RFC 3676; many clients drop the space).
fn signature(lines: &[&str]) -> Option<usize> {
    lines.iter().position(|l| *l == "-- " || *l == "--")
}

/// Whether sanitised HTML holds a quote or signature the view can fold (see the UI's fold
/// style: `.gmail_quote`, `blockquote[type=cite]`, `.moz-cite-prefix`, `#divRplyFwdMsg`,
/// `.gmail_signature`, `.moz-signature`).
pub fn html_folds(html: &str) -> bool {
    const MARKERS: &[&str] = &[
        "gmail_quote",
        "type=\"cite\"",
        "moz-cite-prefix",
        "id=\"divRplyFwdMsg\"",
        "gmail_signature",
        "moz-signature",
    ];
    MARKERS.iter().any(|m| html.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(text: &str) -> (String, String) {
        let lines: Vec<&str> = text.split('\n').collect();
        match fold_line(text) {
            Some(i) => (lines[..i].join("\n"), lines[i..].join("\n")),
            None => (text.to_string(), String::new()),
        }
    }

    #[test]
    fn gmail_english_reply_folds_from_the_attribution() {
        let text = "Thanks, that works.\n\nOn Tue, 14 May 2024 at 10:00, Negozio Bottega \
                    <info@bottega.it> wrote:\n\n> The parcel left yesterday.\n>\n> -- \n> Bottega";
        let (own, rest) = folded(text);
        assert_eq!(own.trim_end(), "Thanks, that works.");
        assert!(rest.starts_with("On Tue, 14 May 2024"), "{rest}");
    }

    #[test]
    fn gmail_italian_wrapped_attribution_folds() {
        let text = "Perfetto, grazie!\n\nIl giorno mar 14 mag 2024 alle ore 10:00 Negozio \
                    Bottega <\ninfo@bottega.it> ha scritto:\n\n> Il pacco è partito ieri.\n";
        let (own, rest) = folded(text);
        assert_eq!(own.trim_end(), "Perfetto, grazie!");
        assert!(rest.starts_with("Il giorno mar 14 mag"), "{rest}");
    }

    #[test]
    fn thunderbird_italian_attribution_folds() {
        let text =
            "Va bene.\n\nIl 14/05/2024 10:00, Negozio ha scritto:\n> Quale taglia?\n> M o L?";
        let (own, rest) = folded(text);
        assert_eq!(own.trim_end(), "Va bene.");
        assert!(rest.starts_with("Il 14/05/2024"));
    }

    #[test]
    fn quote_without_attribution_folds_at_the_first_quoted_line() {
        let text = "Sì, confermo.\n> Confermi l'indirizzo?\n";
        let (own, rest) = folded(text);
        assert_eq!(own, "Sì, confermo.");
        assert_eq!(rest, "> Confermi l'indirizzo?\n");
    }

    #[test]
    fn interleaved_answers_are_not_hidden() {
        let text = "On Mon, Mario wrote:\n> Taglia?\nM\n> Colore?\nBlu";
        assert_eq!(fold_line(text), None);
        let text = "Ciao,\n> Taglia?\nM, grazie\n> Colore?\nBlu\n\n> Altro?";
        // Only the trailing quote folds; the answers above it stay.
        let (own, rest) = folded(text);
        assert!(own.ends_with("M, grazie\n> Colore?\nBlu"), "{own}");
        assert_eq!(rest.trim_start(), "> Altro?");
    }

    #[test]
    fn outlook_english_header_folds_everything_after() {
        let text = "Please send the invoice.\r\n\r\n________________________________\r\n\
                    From: Negozio Bottega <info@bottega.it>\r\nSent: Tuesday, May 14, 2024 10:00 AM\r\n\
                    To: Mario Rossi <mario@example.com>\r\nSubject: Order 42\r\n\r\nThe parcel left.";
        let (own, rest) = folded(text);
        assert_eq!(own.trim_end(), "Please send the invoice.");
        assert!(rest.starts_with("______"), "{rest}");
        assert!(rest.contains("The parcel left."));
    }

    #[test]
    fn outlook_italian_header_folds() {
        let text = "Mi serve la fattura.\n\nDa: Negozio Bottega <info@bottega.it>\n\
                    Inviato: martedì 14 maggio 2024 10:00\nA: Mario Rossi\nOggetto: Ordine 42\n\n\
                    Il pacco è partito.";
        let (own, rest) = folded(text);
        assert_eq!(own.trim_end(), "Mi serve la fattura.");
        assert!(rest.starts_with("Da: Negozio"), "{rest}");
        let bold = "Ok\n\n*Da:* Negozio\n*Inviato:* martedì\n*A:* Mario\n\nTesto";
        assert!(folded(bold).1.starts_with("*Da:*"));
    }

    #[test]
    fn original_message_divider_folds() {
        let text = "Grazie\n\n-----Messaggio originale-----\nDa: x@y.it\nData: oggi\nCiao";
        assert!(folded(text).1.starts_with("-----Messaggio originale"));
    }

    #[test]
    fn a_from_line_alone_is_not_a_header() {
        let text = "From: the warehouse we got your parcel back.\nWe refund today.";
        assert_eq!(fold_line(text), None);
    }

    #[test]
    fn signature_folds_and_comes_before_the_quote() {
        let text =
            "Arrivato, grazie.\n-- \nMario Rossi\nVia Roma 1\n\nOn Mon, Shop wrote:\n> Spedito";
        let (own, rest) = folded(text);
        assert_eq!(own, "Arrivato, grazie.");
        assert!(rest.starts_with("-- \nMario Rossi"));
        let (own, _) = folded("Ok\n--\nMario");
        assert_eq!(own, "Ok");
    }

    #[test]
    fn nothing_to_fold_or_nothing_of_ours() {
        assert_eq!(fold_line("Solo testo.\nDue righe."), None);
        assert_eq!(fold_line(""), None);
        // A message that is all quote keeps showing it.
        assert_eq!(fold_line("> tutto citato\n> qui"), None);
        // A forward is content, not a quote.
        let fwd = "Guarda qui\n\n---------- Forwarded message ---------\nFrom: a@b.it\nDate: Mon\n\
                   Subject: x\nTo: c@d.it\n\nCiao";
        assert_eq!(fold_line(fwd), None);
        assert_eq!(fold_line("Costo -- 20 euro\nciao"), None);
    }

    #[test]
    fn html_markers_are_recognised() {
        assert!(html_folds(
            "<div>Ok</div><div class=\"gmail_quote\"><blockquote class=\"gmail_quote\">x</blockquote></div>"
        ));
        assert!(html_folds(
            "<p>Ok</p><blockquote type=\"cite\">x</blockquote>"
        ));
        assert!(html_folds(
            "<p>Ok</p><div id=\"divRplyFwdMsg\"><b>From:</b></div>"
        ));
        assert!(!html_folds(
            "<p>Ordine <b>42</b></p><blockquote>citazione</blockquote>"
        ));
    }
}
