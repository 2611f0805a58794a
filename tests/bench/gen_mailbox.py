#!/usr/bin/env python3
"""Writes N realistic messages into a Maildir's cur/ (deterministic): Italian plain text in
quoted-printable, HTML alternatives, base64 attachments (PDF-like, JPEG-like), threads."""
import base64, os, quopri, random, sys

out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
rnd = random.Random(42)
words = ("ciao ordine spedizione pacco taglia colore reso fattura grazie però già perché "
         "qualità così più città lunedì martedì consegna corriere rimborso disponibile").split()
names = ["Maria Rossi", "Luca Bianchi", "Giulia Verdi", "Paolo Conti", "Anna Gallo", "Marco Ricci"]

def para(k):
    return " ".join(rnd.choice(words) for _ in range(k)).capitalize() + "."

for i in range(n):
    who = rnd.choice(names)
    addr = who.lower().replace(" ", ".") + "@example.it"
    thread = i // 4
    mid = f"<m{i}@example.it>"
    refs = f"In-Reply-To: <m{i-1}@example.it>\r\nReferences: <m{i-1}@example.it>\r\n" if i % 4 else ""
    subject = ("Re: " if i % 4 else "") + f"Ordine {thread} — già spedito?"
    body = "\n\n".join(para(rnd.randint(20, 60)) for _ in range(rnd.randint(2, 6)))
    qp = quopri.encodestring(body.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    head = (f"From: {who} <{addr}>\r\nTo: Negozio <negozio@localhost>\r\nSubject: {subject}\r\n"
            f"Message-ID: {mid}\r\n{refs}Date: Mon, 23 Nov 2026 {9 + i % 9:02d}:{i % 60:02d}:00 +0100\r\n"
            "MIME-Version: 1.0\r\n")
    kind = i % 10
    if kind < 4:  # plain text, quoted-printable
        msg = head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp
    else:
        html = "<html><body>" + "".join(f"<p style='color:#333'>{p}</p>" for p in body.split("\n\n")) + \
               "<img src='https://tracker.example.com/p.gif'></body></html>"
        alt = ("--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
               + qp + "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               + base64.encodebytes(html.encode()).decode().replace("\n", "\r\n") + "--alt--\r\n")
        if kind < 7:
            msg = head + "Content-Type: multipart/alternative; boundary=alt\r\n\r\n" + alt
        else:  # with an attachment of 40-160 KB
            size = rnd.randint(40_000, 160_000)
            data = base64.encodebytes(rnd.randbytes(size)).decode().replace("\n", "\r\n")
            name, ctype = (f"fattura-{i}.pdf", "application/pdf") if kind < 9 else (f"foto-{i}.jpg", "image/jpeg")
            msg = (head + "Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\n"
                   "Content-Type: multipart/alternative; boundary=alt\r\n\r\n" + alt +
                   f"--mix\r\nContent-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n" + data + "--mix--\r\n")
    with open(os.path.join(out, f"1700000000.M{i:06d}.bench:2,"), "wb") as f:
        f.write(msg.encode("utf-8"))
