"""A mixed SMTP submission and IMAP load against `mss serve`, that keeps
going while the server is killed and restarted, and records exactly which
messages the server acknowledged.

Arguments: host submission-port imap-port ca-file user token stop-file

Threads, until stop-file exists:
- senders submit messages to `user` itself (250 to DATA = acknowledged);
- appenders APPEND to Archive (OK = acknowledged);
- a reader selects INBOX, fetches flags and marks messages \\Seen, and
  appends then expunges throw-away messages (never the acknowledged ones).

Every attempt has its own Message-ID. When the server dies mid-attempt the
client cannot know the outcome: that id is "uncertain" (present at most
once afterwards). Prints one JSON object: acknowledged and uncertain ids.
"""

import imaplib
import json
import os
import smtplib
import ssl
import sys
import threading
import time

host, submission, imap_port, cafile, user, token, stop_file = sys.argv[1:8]
submission, imap_port = int(submission), int(imap_port)

context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # we dial 127.0.0.1; the chain is still verified
xoauth2 = f"user={user}\1auth=Bearer {token}\1\1"

lock = threading.Lock()
acknowledged, uncertain, errors = [], [], []


def running():
    return not os.path.exists(stop_file)


def message(message_id, subject):
    return (
        f"From: <{user}>\r\nTo: <{user}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{message_id}>\r\nDate: Fri, 27 Nov 2026 09:00:00 +0100\r\n\r\n"
        + "Ordonnance de renouvellement.\r\n" * 40
    )


def attempt(message_id, action):
    """Runs one acknowledged action; a refused connection (server down) is
    retried with a new id, a cut one leaves its id uncertain."""
    try:
        action()
    except (ConnectionRefusedError, ConnectionResetError) as e:
        if isinstance(e, ConnectionRefusedError):
            time.sleep(0.05)
            return
        with lock:
            uncertain.append(message_id)
        time.sleep(0.05)
        return
    except Exception as e:  # noqa: BLE001 - any failure mid-way: outcome unknown
        with lock:
            uncertain.append(message_id)
            if len(errors) < 20:
                errors.append(f"{message_id}: {type(e).__name__}: {e}")
        time.sleep(0.05)
        return
    with lock:
        acknowledged.append(message_id)


def sender(n):
    i = 0
    while running():
        i += 1
        mid = f"smtp-{n}-{i}@load.test"

        def send():
            with smtplib.SMTP(host, submission, timeout=10) as s:
                s.starttls(context=context)
                s.ehlo()
                s.auth("XOAUTH2", lambda challenge=None: xoauth2)
                s.sendmail(user, [user], message(mid, f"soumission {n}-{i}").encode())

        attempt(mid, send)


def imap_session():
    m = imaplib.IMAP4(host, imap_port, timeout=10)
    m.starttls(ssl_context=context)
    typ, data = m.authenticate("XOAUTH2", lambda _: xoauth2.encode())
    assert typ == "OK", data
    return m


def appender(n):
    i = 0
    while running():
        i += 1
        mid = f"imap-{n}-{i}@load.test"

        def append():
            m = imap_session()
            try:
                typ, data = m.append("Archive", "(\\Seen)", None, message(mid, f"archive {n}-{i}").encode())
                if typ != "OK":
                    raise RuntimeError(f"APPEND {typ} {data}")
            finally:
                try:
                    m.logout()
                except Exception:  # noqa: BLE001 - the server may be gone
                    pass

        attempt(mid, append)


def reader():
    i = 0
    while running():
        i += 1
        try:
            m = imap_session()
            m.select("INBOX")
            m.fetch("1:*", "(FLAGS)")
            m.store("1:*", "+FLAGS", "(\\Seen)")
            m.append("Drafts", "(\\Deleted)", None, message(f"draft-{i}@load.test", "brouillon").encode())
            m.select("Drafts")
            m.expunge()
            m.logout()
        except Exception:  # noqa: BLE001 - the server is killed on purpose
            time.sleep(0.05)


threads = [threading.Thread(target=sender, args=(n,)) for n in range(3)]
threads += [threading.Thread(target=appender, args=(n,)) for n in range(2)]
threads.append(threading.Thread(target=reader))
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"acknowledged": acknowledged, "uncertain": uncertain, "errors": errors}))
