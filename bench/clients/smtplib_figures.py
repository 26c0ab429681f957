#!/usr/bin/env python3
"""Times what a stock SMTP client does, as Python's smtplib does it (no
TCP_NODELAY, no TLS session resumption): COUNT messages of SIZE bytes over
STARTTLS with the load generator's operator certificate, first each on a
connection of its own, then all on one. Prints one JSON object: messages
accepted per second (a 250 after DATA) in each mode.

Usage: smtplib_figures.py HOST PORT CAFILE CERT KEY SENDER RECIPIENTS COUNT SIZE
RECIPIENTS is comma-separated; message n goes to recipient n modulo their number.
"""
import json
import smtplib
import ssl
import sys
import time


def message(n, size, sender, recipient):
    text = (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: Stock {n}\r\n"
            f"Message-ID: <stock-{n}-{time.time_ns()}@peer.test>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0100\r\n\r\n")
    line = "Compte-rendu de biologie: valeurs dans les normes, aucune anomalie detectee.\r\n"
    while len(text) + len(line) < size:
        text += line
    return text


def session(host, port, context):
    client = smtplib.SMTP(host, port, local_hostname="loadgen.peer.test")
    client.starttls(context=context)
    client.ehlo("loadgen.peer.test")
    return client


def main():
    host, port, cafile, cert, key, sender, recipients, count, size = sys.argv[1:10]
    port, count, size = int(port), int(count), int(size)
    recipients = recipients.split(",")
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    context.load_cert_chain(cert, key)
    rates = {}
    start = time.perf_counter()
    for n in range(count):
        client = session(host, port, context)
        client.sendmail(sender, [recipients[n % len(recipients)]], message(n, size, sender, recipients[n % len(recipients)]))
        client.quit()
    rates["per_message"] = count / (time.perf_counter() - start)
    start = time.perf_counter()
    client = session(host, port, context)
    for n in range(count):
        client.sendmail(sender, [recipients[n % len(recipients)]], message(n, size, sender, recipients[n % len(recipients)]))
    client.quit()
    rates["reused"] = count / (time.perf_counter() - start)
    print(json.dumps(rates))


main()
