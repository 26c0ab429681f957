#!/usr/bin/env python3
"""Times what a stock IMAP client does, as Python's imaplib does it (no
TCP_NODELAY; an APPEND's literal and its closing CRLF in two writes): login,
SELECT, FETCH 1:* (FLAGS ENVELOPE), UID SEARCH by subject and by body (the
body word sent as a literal, UTF-8), APPEND of 2 KB. Prints one JSON object:
each operation's durations in milliseconds, `runs` of each.

Usage: imaplib_figures.py HOST PORT CAFILE USER PASSWORD RUNS
"""
import imaplib
import json
import ssl
import sys
import time


def timed(samples, name, action):
    start = time.perf_counter()
    typ, data = action()
    samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
    if typ != "OK":
        raise SystemExit(f"{name}: {typ} {data}")
    return data


def main():
    host, port, cafile, user, password, runs = sys.argv[1:7]
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    samples = {}
    message = b"From: <a@peer.test>\r\nSubject: stock\r\n\r\n" + b"y" * 2000 + b"\r\n"
    for _ in range(int(runs)):
        start = time.perf_counter()
        client = imaplib.IMAP4(host, int(port))
        client.starttls(ssl_context=context)
        client.login(user, password)
        samples.setdefault("login", []).append((time.perf_counter() - start) * 1000)
        timed(samples, "select", lambda: client.select("INBOX"))
        timed(samples, "fetch", lambda: client.fetch("1:*", "(FLAGS ENVELOPE)"))
        timed(samples, "search_subject", lambda: client.uid("SEARCH", "SUBJECT", '"dossier 42"'))
        client.literal = "hyperkaliémie".encode()
        timed(samples, "search_body", lambda: client.uid("SEARCH", "CHARSET", "UTF-8", "BODY"))
        for _ in range(10):
            timed(samples, "append", lambda: client.append("INBOX", None, None, message))
        client.logout()
    print(json.dumps(samples))


main()
