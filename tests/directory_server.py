"""A real OpenLDAP (Debian's slapd) for directory sign-in tests: a throw-away CA and server
certificate, a test directory loaded with slapadd, plain LDAP (for StartTLS) and LDAPS on free
ports of 127.0.0.1. Run `python tests/directory_server.py` to keep one running by hand.

The directory (dc=example,dc=org):

* people: alice (ops-engineers), bob (ops-engineers, ops-cab), carol (marketing: no mapped
  group), dave (ops-engineers; the tests remove him), and the service account opsgate-sync.
* every person's password is `<name>-pw-123`; the admin is cn=admin,dc=example,dc=org / ADMIN_PASSWORD.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BASE = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "directory-admin-pw"
SYNC_DN = f"cn=opsgate-sync,ou=services,{BASE}"
SYNC_PASSWORD = "sync-account-pw-123"
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"

PEOPLE = {"alice": ["ops-engineers"], "bob": ["ops-engineers", "ops-cab"], "carol": ["marketing"],
          "dave": ["ops-engineers"]}


def available() -> bool:
    """Whether slapd is installed (Debian's `slapd` package)."""
    return Path(SLAPD).exists() and Path(SLAPADD).exists()


def password(name: str) -> str:
    return f"{name}-pw-123"


def _ldif() -> str:
    out = [f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n",
           f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n",
           f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n",
           f"dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n",
           f"dn: {SYNC_DN}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\n"
           f"cn: opsgate-sync\nuserPassword: {SYNC_PASSWORD}\n"]
    for name in PEOPLE:
        out.append(f"dn: uid={name},ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: {name}\n"
                   f"cn: {name.title()} Example\nsn: Example\nmail: {name}@example.org\n"
                   f"userPassword: {password(name)}\n")
    groups: dict[str, list[str]] = {}
    for name, member_of in PEOPLE.items():
        for group in member_of:
            groups.setdefault(group, []).append(name)
    for group, members in groups.items():
        lines = "".join(f"member: uid={m},ou=people,{BASE}\n" for m in members)
        out.append(f"dn: cn={group},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {group}\n{lines}")
    return "\n".join(out)


def _certificates(folder: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1 / localhost; return the CA file."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opsgate test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return folder / "ca.pem"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Directory:
    """A running slapd."""

    ldap_url: str
    ldaps_url: str
    ca_file: Path
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start(folder: Path) -> Directory:
    """Write the config and the directory under `folder`, load it, start slapd, wait until it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_file = _certificates(folder)
    data = folder / "data"
    data.mkdir(exist_ok=True)
    schema = "\n".join(f"include /etc/ldap/schema/{n}.schema" for n in ("core", "cosine", "inetorgperson", "nis"))
    (folder / "slapd.conf").write_text(f"""{schema}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
database mdb
maxsize 104857600
suffix "{BASE}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {data}
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
""")
    (folder / "directory.ldif").write_text(_ldif())
    subprocess.run([SLAPADD, "-f", str(folder / "slapd.conf"), "-l", str(folder / "directory.ldif")], check=True,
                   capture_output=True, timeout=60)
    plain, secure = _free_port(), _free_port()
    with open(folder / "slapd.log", "wb") as errors:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([SLAPD, "-d", "0", "-f", str(folder / "slapd.conf"),
                                    "-h", f"ldap://127.0.0.1:{plain}/ ldaps://127.0.0.1:{secure}/"],
                                   stdout=subprocess.DEVNULL, stderr=errors)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited: {(folder / 'slapd.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", plain), timeout=0.5), \
                    socket.create_connection(("127.0.0.1", secure), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("slapd did not start listening within 20 s")
    return Directory(f"ldap://127.0.0.1:{plain}", f"ldaps://127.0.0.1:{secure}", ca_file, process)


if __name__ == "__main__":
    import tempfile

    d = start(Path(tempfile.mkdtemp(prefix="opsgate-slapd-")))
    print(f"{d.ldap_url} {d.ldaps_url} CA {d.ca_file}; Ctrl-C stops it")
    try:
        d.process.wait()
    except KeyboardInterrupt:
        d.stop()
