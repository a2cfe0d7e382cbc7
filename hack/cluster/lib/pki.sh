# shellcheck shell=bash
# The cluster's PKI: a local CA, serving and client certificates for every
# component, the ServiceAccount signing key, and the kubeconfigs. Everything
# is kept across runs and regenerated only when missing, expiring within 30
# days, not signed by the current CA, or (serving certs) missing a name.

CERT_DAYS=825
RENEW_BEFORE_S=$((30 * 24 * 3600))

# cert_ok NAME [CA] [IP...]: the certificate exists, is valid for 30 more days,
# verifies against CA and covers each IP given.
cert_ok() {
  local name=$1 ca=${2:-ca}; shift 2 || shift $#
  local crt="${PKI_DIR}/${name}.crt" key="${PKI_DIR}/${name}.key" ip
  [[ -s "$crt" && -s "$key" ]] || return 1
  openssl x509 -in "$crt" -noout -checkend "$RENEW_BEFORE_S" >/dev/null 2>&1 || return 1
  if [[ "$name" != "$ca" ]]; then
    openssl verify -CAfile "${PKI_DIR}/${ca}.crt" "$crt" >/dev/null 2>&1 || return 1
  fi
  for ip in "$@"; do
    grep -q 'does match' <<<"$(openssl x509 -in "$crt" -noout -checkip "$ip" 2>/dev/null)" || return 1
  done
}

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

# make_ca NAME CN
make_ca() {
  local name=$1 cn=$2
  cert_ok "$name" "$name" && return 0
  log "generating CA ${name}"
  new_key "${PKI_DIR}/${name}.key"
  openssl req -x509 -new -key "${PKI_DIR}/${name}.key" -subj "/CN=${cn}" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "${PKI_DIR}/${name}.crt" 2>/dev/null
  # Leaves signed by an older CA no longer verify and are reissued below.
}

# make_cert NAME CA SUBJECT USAGE [SAN] : issue NAME.crt/NAME.key signed by CA.
# USAGE is serverAuth, clientAuth or "serverAuth,clientAuth".
make_cert() {
  local name=$1 ca=$2 subj=$3 usage=$4 san=${5:-}
  local ips=()
  if [[ -n "$san" ]]; then
    local s
    IFS=, read -ra s <<<"$san"
    for x in "${s[@]}"; do [[ "$x" == IP:* ]] && ips+=("${x#IP:}"); done
  fi
  cert_ok "$name" "$ca" "${ips[@]}" && return 0
  log "issuing certificate ${name} (${subj})"
  local ext="${PKI_DIR}/.${name}.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=${usage}"
    [[ -n "$san" ]] && echo "subjectAltName=${san}"
  } >"$ext"
  new_key "${PKI_DIR}/${name}.key"
  openssl req -new -key "${PKI_DIR}/${name}.key" -subj "$subj" -out "${PKI_DIR}/.${name}.csr" 2>/dev/null
  openssl x509 -req -in "${PKI_DIR}/.${name}.csr" -CA "${PKI_DIR}/${ca}.crt" -CAkey "${PKI_DIR}/${ca}.key" \
    -CAcreateserial -days "$CERT_DAYS" -extfile "$ext" -out "${PKI_DIR}/${name}.crt" 2>/dev/null
  rm -f "$ext" "${PKI_DIR}/.${name}.csr"
}

make_sa_keys() {
  [[ -s "${PKI_DIR}/sa.key" && -s "${PKI_DIR}/sa.pub" ]] && return 0
  log "generating the ServiceAccount signing key"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${PKI_DIR}/sa.key" 2>/dev/null
  chmod 600 "${PKI_DIR}/sa.key"
  openssl pkey -in "${PKI_DIR}/sa.key" -pubout -out "${PKI_DIR}/sa.pub" 2>/dev/null
}

ensure_pki() {
  mkdir -p "$PKI_DIR"
  chmod 700 "$PKI_DIR"
  make_ca ca "outrider-cluster-ca"
  make_ca front-proxy-ca "outrider-front-proxy-ca"

  local api_san="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  api_san+=",DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:${NODE_NAME}"
  api_san+=",IP:127.0.0.1,IP:${SERVICE_IP},IP:${BRIDGE_IP}"
  make_cert apiserver ca "/CN=kube-apiserver" serverAuth "$api_san"
  make_cert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  make_cert admin ca "/O=system:masters/CN=outrider-admin" clientAuth
  make_cert controller-manager ca "/CN=system:kube-controller-manager" clientAuth
  make_cert scheduler ca "/CN=system:kube-scheduler" clientAuth
  make_cert kube-proxy ca "/CN=system:kube-proxy" clientAuth
  make_cert kubelet-client ca "/O=system:nodes/CN=system:node:${NODE_NAME}" clientAuth
  make_cert kubelet-serving ca "/CN=${NODE_NAME}" serverAuth "DNS:${NODE_NAME},DNS:localhost,IP:127.0.0.1"
  make_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
  make_sa_keys
}

# write_kubeconfig FILE USER CERTNAME: a kubeconfig with embedded credentials.
write_kubeconfig() {
  local file=$1 user=$2 cert=$3
  write_file "$file" 0600 <<EOF
apiVersion: v1
kind: Config
clusters:
- name: outrider
  cluster:
    server: ${APISERVER_URL}
    certificate-authority-data: $(base64 -w0 <"${PKI_DIR}/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 <"${PKI_DIR}/${cert}.crt")
    client-key-data: $(base64 -w0 <"${PKI_DIR}/${cert}.key")
contexts:
- name: outrider
  context:
    cluster: outrider
    user: ${user}
current-context: outrider
EOF
}

ensure_kubeconfigs() {
  mkdir -p "$CONF_DIR" "$USER_DIR"
  write_kubeconfig "${CONF_DIR}/admin.kubeconfig" outrider-admin admin
  write_kubeconfig "${CONF_DIR}/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
  write_kubeconfig "${CONF_DIR}/scheduler.kubeconfig" system:kube-scheduler scheduler
  write_kubeconfig "${CONF_DIR}/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
  write_kubeconfig "${CONF_DIR}/kubelet.kubeconfig" "system:node:${NODE_NAME}" kubelet-client
  # The user's copy in the checkout (git-ignored).
  write_file "$ADMIN_KUBECONFIG" 0600 <"${CONF_DIR}/admin.kubeconfig"
}
