"""Every command Python's imaplib has, against `mss serve`, over STARTTLS
with a bearer token (SASL XOAUTH2). Exits non-zero on the first surprise.

Arguments: host port ca-file user token
The INBOX holds two delivered messages when this starts.
"""

import imaplib
import ssl
import sys
import time

host, port, cafile, user, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def refused(call, *args):
    try:
        typ, data = call(*args)
    except imaplib.IMAP4.error as e:  # NO and BAD raise for most commands
        return str(e)
    assert typ in ("NO", "BAD"), (call.__name__, typ, data)
    return data


context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # we dial 127.0.0.1; the chain is still verified
M = imaplib.IMAP4(host, port)
assert "STARTTLS" in M.capabilities and "LOGINDISABLED" in M.capabilities, M.capabilities
try:
    M.login(user, token)
    raise AssertionError("LOGIN before TLS must fail")
except imaplib.IMAP4.error:
    pass
M.starttls(ssl_context=context)
assert "AUTH=XOAUTH2" in M.capabilities, M.capabilities
refused(M.authenticate, "XOAUTH2", lambda _: f"user={user}\1auth=Bearer forged\1\1".encode())
ok(M.authenticate("XOAUTH2", lambda _: f"user={user}\1auth=Bearer {token}\1\1".encode()))
assert M.state == "AUTH"

caps = ok(M.capability())[0].decode()
for cap in ("IMAP4rev2", "IDLE", "MOVE", "UIDPLUS", "CONDSTORE", "SPECIAL-USE", "ACL", "NAMESPACE"):
    assert cap in caps, (cap, caps)
ok(M.noop())
assert b'(("" "/"))' in ok(M.namespace())[0]
ok(M.enable("CONDSTORE"))

listed = b"\n".join(ok(M.list()))
for special in (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive"):
    assert special in listed, listed
ok(M.create("Ordonnances"))
refused(M.create, "Ordonnances")
ok(M.rename("Ordonnances", "Prescriptions"))
ok(M.subscribe("Prescriptions"))
assert any(b"Prescriptions" in line for line in ok(M.lsub()))
ok(M.unsubscribe("Prescriptions"))
assert not any(b"Prescriptions" in line for line in ok(M.lsub()))

message = (
    b"From: <" + user.encode() + b">\r\nTo: <" + user.encode() + b">\r\nSubject: Brouillon\r\n"
    b"Date: Thu, 26 Nov 2026 10:00:00 +0100\r\nMessage-ID: <draft@test>\r\n\r\nA relire.\r\n"
)
appended = ok(M.append("Drafts", "(\\Draft)", imaplib.Time2Internaldate(time.time()), message))
assert b"APPENDUID" in appended[0], appended
status = ok(M.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)"))[0]
assert b"MESSAGES 2" in status and b"UNSEEN 2" in status, status

assert ok(M.select("Drafts", readonly=True)) == [b"1"]
fetched = ok(M.fetch("1", "(BODY.PEEK[])"))
assert fetched[0][1] == message, fetched
ok(M.unselect())

assert ok(M.select("INBOX")) == [b"2"]
summary = ok(M.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)"))
assert len([x for x in summary if x != b")"]) == 2, summary
body = ok(M.fetch("1", "(BODY[TEXT])"))
assert b"Paracetamol" in body[0][1], body
assert b"\\Seen" in b"".join(x if isinstance(x, bytes) else x[0] for x in body), body
ok(M.uid("FETCH", "1:*", "(FLAGS)"))
ok(M.store("2", "+FLAGS", "(\\Flagged $Ordonnance)"))
assert ok(M.search(None, "FLAGGED")) == [b"2"]
assert ok(M.search(None, "SUBJECT", '"Compte-rendu"')) == [b"2"]
assert ok(M.search("UTF-8", "UNSEEN")) == [b"2"]
assert ok(M.uid("SEARCH", "KEYWORD", "$Ordonnance")) == [b"2"]
copied = ok(M.copy("1:2", "Prescriptions"))
assert b"COPYUID" in copied[0], copied
ok(M.uid("COPY", "1", "Archive"))
ok(M.uid("MOVE", "2", "Archive"))
assert M.response("EXPUNGE")[1] == [b"2"], "MOVE announces the expunge"
ok(M.check())
ok(M.store("1", "+FLAGS", "(\\Deleted)"))
ok(M.expunge())
assert ok(M.select("INBOX")) == [b"0"]

assert b"lrswipkxtea" in ok(M.myrights("INBOX"))[0]
assert user.encode() in ok(M.getacl("INBOX"))[0]
refused(M.setacl, "INBOX", "someone", "lr")
refused(M.deleteacl, "INBOX", "someone")

ok(M.select("Prescriptions"))
ok(M.close())
assert M.state == "AUTH"
ok(M.delete("Prescriptions"))
refused(M.select, "Prescriptions")

# What this server does not offer is refused in the protocol's terms.
refused(M.getquota, "")
refused(M.getquotaroot, "INBOX")
refused(M.setquota, "", "(STORAGE 10)")
refused(M.proxyauth, "someone")
refused(M.getannotation, "INBOX", '"/comment"', '"value"')
refused(M.xatom, "XFROBNICATE")
typ, data = M.logout()
assert typ == "BYE", (typ, data)
print("imaplib: every command answered")
