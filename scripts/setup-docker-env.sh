#!/usr/bin/env bash
# Installs and starts what the image tests need, idempotently (as root, on Debian):
#   - a Docker engine (Debian's docker.io), started when none answers;
#   - a registry (Debian's docker-registry) with TLS and basic auth, serving on 127.0.0.1:443 under
#     the host names moto's ECR hands out in each region the tests use, so that the action's ECR
#     login and push work unchanged: the host names map to 127.0.0.1 in /etc/hosts, the engine
#     trusts the self-signed certificate through /etc/docker/certs.d, and the htpasswd user is
#     moto's `AWS` with its token.
set -euo pipefail

REGIONS="us-east-1 eu-west-1 ap-southeast-2"
REGISTRY_HOSTS=""
for region in $REGIONS; do REGISTRY_HOSTS="$REGISTRY_HOSTS 123456789012.dkr.ecr.$region.amazonaws.com"; done
REGISTRY_HOST=123456789012.dkr.ecr.us-east-1.amazonaws.com
# moto's GetAuthorizationToken decodes to AWS:<account>-auth-token.
REGISTRY_PASSWORD=123456789012-auth-token
STATE=/var/lib/ecs-loadtest-test
mkdir -p "$STATE"

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Name resolution and trust for the registry: one certificate for every region's host name (made
# again when an older one lacks a name, and the registry restarted to serve it).
for host in $REGISTRY_HOSTS; do
  grep -q " $host\$" /etc/hosts || echo "127.0.0.1 $host" >> /etc/hosts
done
names=""
for host in $REGISTRY_HOSTS; do names="${names:+$names,}DNS:$host"; done
if [ ! -f "$STATE/registry.crt" ] || [ "$(cat "$STATE/registry.names" 2>/dev/null)" != "$names" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$REGISTRY_HOST" \
    -addext "subjectAltName=$names" \
    -keyout "$STATE/registry.key" -out "$STATE/registry.crt" 2>/dev/null
  echo "$names" > "$STATE/registry.names"
  pkill -f "docker-registry serve $STATE/registry.yml" 2>/dev/null || true
  sleep 0.5
fi
for host in $REGISTRY_HOSTS; do
  mkdir -p "/etc/docker/certs.d/$host"
  cp "$STATE/registry.crt" "/etc/docker/certs.d/$host/ca.crt"
done
htpasswd -Bbc "$STATE/htpasswd" AWS "$REGISTRY_PASSWORD" 2>/dev/null

cat > "$STATE/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $STATE/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:443
  tls:
    certificate: $STATE/registry.crt
    key: $STATE/registry.key
auth:
  htpasswd:
    realm: ecs-loadtest-test
    path: $STATE/htpasswd
log:
  level: warn
EOF

if ! docker version >/dev/null 2>&1; then
  echo "Starting dockerd"
  nohup dockerd >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
  docker version >/dev/null 2>&1 || { tail -20 "$STATE/dockerd.log"; exit 1; }
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null; then
  echo "Starting the registry on 127.0.0.1:443"
  nohup docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 &
  for _ in $(seq 60); do (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null && break; sleep 0.25; done
fi
(exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null || { tail -20 "$STATE/registry.log"; exit 1; }
