"""Submits one message to `mss serve` (STARTTLS, SASL XOAUTH2) and prints
the server's answer to it: "<code> <text>". An APPEND of the same message
to Archive follows when asked, its answer printed on a second line.

Arguments: host submission-port imap-port ca-file user token size message-id append(yes|no)
"""

import imaplib
import smtplib
import ssl
import sys

host, port, imap_port, cafile, user, token, size, message_id, append = sys.argv[1:10]
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # we dial 127.0.0.1; the chain is still verified
xoauth2 = f"user={user}\1auth=Bearer {token}\1\1"
body = ("x" * 76 + "\r\n") * (int(size) // 78 + 1)
raw = f"From: <{user}>\r\nTo: <{user}>\r\nSubject: test\r\nMessage-ID: <{message_id}>\r\n\r\n{body}".encode()

with smtplib.SMTP(host, int(port), timeout=30) as s:
    s.starttls(context=context)
    s.ehlo()
    s.auth("XOAUTH2", lambda challenge=None: xoauth2)
    try:
        s.sendmail(user, [user], raw)
        print("250 accepted")
    except smtplib.SMTPDataError as e:
        print(e.smtp_code, e.smtp_error.decode())

if append == "yes":
    m = imaplib.IMAP4(host, int(imap_port), timeout=30)
    m.starttls(ssl_context=context)
    m.authenticate("XOAUTH2", lambda _: xoauth2.encode())
    typ, data = m.append("Archive", None, None, raw)
    print(typ, b" ".join(d for d in data if isinstance(d, bytes)).decode())
    m.logout()
