#!/usr/bin/env bash
# Build and start the gateway image with podman, daemonless, as root; how tests/packaging/
# test_image.py does it. Usage (from anywhere):
#   deploy/image.sh build [TAG]                 # TAG default localhost/cc-gateway:0.1.0
#   deploy/image.sh run [TAG] [NAME] [PORT]     # detached, host network, gateway on 127.0.0.1:PORT
# BASE (env) is the base image; without it a Debian bookworm image with python3 that
# deploy/base-image.sh builds from the Debian archive (no container registry needed). The
# options below are for sandboxes like the development machine: crun refuses
# its hybrid cgroup layout (runc does not), its hard RLIMIT_NOFILE is below podman's default and
# CAP_SYS_RESOURCE is missing (explicit --ulimit), and TLS goes through a proxy whose CA only the
# host's /etc/ssl/certs trusts (mounted read-only into the build steps).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNTIME="${PODMAN_RUNTIME:-runc}"
ULIMITS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
cmd="${1:?build or run}"
TAG="${2:-localhost/cc-gateway:0.1.0}"
case "$cmd" in
  build)
    BASE="${BASE:-}"
    if [ -z "$BASE" ]; then
      BASE=localhost/debian-python:bookworm
      podman image exists "$BASE" || bash deploy/base-image.sh "$BASE" "${BASE_WORKDIR:-/var/tmp/cc-gateway-base}"
    fi
    podman --runtime "$RUNTIME" build --isolation chroot --network host "${ULIMITS[@]}" \
      -v /etc/ssl/certs:/etc/ssl/certs:ro --build-arg "BASE=$BASE" \
      --label org.opencontainers.image.title=cc-gateway -f deploy/Dockerfile -t "$TAG" .
    ;;
  run)
    NAME="${3:-cc-gateway}"
    PORT="${4:-8080}"
    # Host network (no CNI set-up needed): the phone listeners take any free port so they never
    # collide with another gateway on the machine (SIP udp/5080, AudioSocket tcp/9092).
    podman --runtime "$RUNTIME" run -d --name "$NAME" --network host "${ULIMITS[@]}" \
      -e GATEWAY_SERVER__HOST=127.0.0.1 -e "GATEWAY_SERVER__PORT=$PORT" \
      -e GATEWAY_PHONE__SIP_PORT=0 -e GATEWAY_PHONE__AUDIOSOCKET_PORT=0 "$TAG"
    ;;
  *) echo "usage: $0 build|run [TAG] [NAME] [PORT]" >&2; exit 2 ;;
esac
