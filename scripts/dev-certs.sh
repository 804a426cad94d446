#!/usr/bin/env bash
# Makes the certificates of a local, development-only cluster with Debian's openssl (apt-get install openssl) in
# DIR (the first argument, default ${TMPDIR:-/tmp}/orleanssessions-certs). Every private key is P-256, unencrypted,
# readable by its owner only; every certificate names DNS:localhost and IP:127.0.0.1.
#
#   ca.pem, ca.key                a local CA: its certificate is Security:CaCertificate (silos) and --ca (client)
#   silo.pem, silo.key            a silo certificate (serverAuth and clientAuth: a silo is server and client to its
#                                 peers): Security:Certificate and Security:CertificateKey; also used for HTTPS
#   silo-with-key.pem             the same certificate with its key in one file (Security:Certificate alone)
#   silo.pfx                      the same as PKCS#12, password "$PFX_PASSWORD" (default orleanssessions):
#                                 Security:Certificate with Security:CertificatePassword
#   client.pem, client.key        a client certificate (clientAuth): the client app's --cert and --key
#   other-ca.pem, other-ca.key    a second CA that the cluster does not trust, and certificates it issued, to show
#   other-client.pem/.key         that they are refused
#   other-silo.pem/.key
#
# Idempotent: a file that exists and still verifies against its CA (not expired) is kept; whatever is missing or no
# longer valid is made again (a new CA re-issues everything it signed). Safe to run concurrently (flock).
# Not for production: the CA key sits next to the certificates it signs. Certificates are valid for 365 days.
set -euo pipefail

DIR="${1:-${TMPDIR:-/tmp}/orleanssessions-certs}"
PFX_PASSWORD="${PFX_PASSWORD:-orleanssessions}"
DAYS=365
command -v openssl >/dev/null 2>&1 || { echo "openssl is not installed (apt-get install -y openssl)" >&2; exit 1; }
mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"
umask 077

exec 9>"$DIR/.lock"
flock 9

# A key and a self-signed CA certificate, unless the certificate exists and has not expired.
make_ca() {
  local name="$1" subject="$2"
  if [ -s "$name.pem" ] && [ -s "$name.key" ] && openssl x509 -in "$name.pem" -noout -checkend 86400 >/dev/null 2>&1; then
    return 1
  fi
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
  openssl req -x509 -new -key "$name.key" -sha256 -days "$DAYS" -subj "$subject" -out "$name.pem" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
  echo "made $DIR/$name.pem"
}

# A key and a certificate issued by CA for the extended key usages EKU, unless it exists and verifies against CA.
issue() {
  local name="$1" ca="$2" subject="$3" eku="$4" renew="$5"
  if [ "$renew" = no ] && [ -s "$name.pem" ] && [ -s "$name.key" ] \
    && openssl verify -CAfile "$ca.pem" "$name.pem" >/dev/null 2>&1 \
    && openssl x509 -in "$name.pem" -noout -checkend 86400 >/dev/null 2>&1; then
    return 1
  fi
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=$eku" \
    "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -sha256 -days "$DAYS" \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
  echo "made $DIR/$name.pem"
}

renew=no
make_ca ca "/CN=OrleansSessions development CA" && renew=yes
silo_renewed=no
issue silo ca "/CN=orleanssessions-silo" "serverAuth,clientAuth" "$renew" && silo_renewed=yes
issue client ca "/CN=orleanssessions-client" "clientAuth" "$renew" || true

if [ "$silo_renewed" = yes ] || [ ! -s silo-with-key.pem ] || [ ! -s silo.pfx ]; then
  cat silo.pem silo.key >silo-with-key.pem
  openssl pkcs12 -export -in silo.pem -inkey silo.key -name orleanssessions-silo -passout "pass:$PFX_PASSWORD" -out silo.pfx
  echo "made $DIR/silo-with-key.pem and $DIR/silo.pfx"
fi

other_renew=no
make_ca other-ca "/CN=Some other CA" && other_renew=yes
issue other-client other-ca "/CN=orleanssessions-client" "clientAuth" "$other_renew" || true
issue other-silo other-ca "/CN=orleanssessions-silo" "serverAuth,clientAuth" "$other_renew" || true

echo "certificates in $DIR"
