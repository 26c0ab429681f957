"""Logs in over IMAP (STARTTLS, XOAUTH2), asks for every message's body and
then reads nothing for a while: the server must not buffer what it cannot
send. Exits 0 once the wait is over.

Arguments: host port ca-file user token seconds
"""

import base64
import socket
import ssl
import sys
import time

host, port, cafile, user, token, seconds = sys.argv[1:7]
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # we dial 127.0.0.1; the chain is still verified
raw = socket.create_connection((host, int(port)), timeout=30)
# A small receive window, as a slow phone would have.
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
f = raw.makefile("rb")
f.readline()
raw.sendall(b"s STARTTLS\r\n")
while not f.readline().startswith(b"s OK"):
    pass
tls = context.wrap_socket(raw, server_hostname="localhost")
f = tls.makefile("rb")
xoauth2 = f"user={user}\1auth=Bearer {token}\1\1".encode()
tls.sendall(b"a AUTHENTICATE XOAUTH2 " + base64.b64encode(xoauth2) + b"\r\n")
while True:
    line = f.readline()
    if line.startswith(b"a "):
        assert line.startswith(b"a OK"), line
        break
tls.sendall(b"b SELECT INBOX\r\n")
while not f.readline().startswith(b"b OK"):
    pass
tls.sendall(b"c FETCH 1:* BODY[]\r\n")
time.sleep(float(seconds))
tls.close()
