# shellcheck shell=bash
# Shared by scripts/lab and scripts/test: a virtualenv with the pinned tools, the
# checkout visible as the advwell.platform collection, a running Docker engine,
# and the lab images. Every step is skipped when it is already done.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${ADVWELL_VENV:-$ROOT/.venv}
STATE_DIR=$ROOT/.lab
export ANSIBLE_CONFIG=$ROOT/ansible.cfg
export PATH=$VENV/bin:$PATH
mkdir -p "$STATE_DIR"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# Whole seconds since boot: bash's SECONDS follows the wall clock, and a correction of this
# machine's clock once added three hours to a step of the timing table.
clock() { local up; read -r up _ </proc/uptime; echo "${up%.*}"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq || log "apt-get update reported errors; trying the install anyway"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {
    local stamp=$VENV/.requirements.sha256
    local want
    want=$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    command -v python3 >/dev/null || apt_install python3
    python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
    log "virtualenv $VENV (pinned requirements)"
    python3 -m venv "$VENV" || { apt_install python3-venv; python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$VENV/bin/pip" install -q -r "$ROOT/requirements.txt"
    echo "$want" > "$stamp"
}

# ansible finds the checkout as advwell.platform through collections_path in ansible.cfg.
ensure_collection_link() {
    local dir=$ROOT/.ansible/collections/ansible_collections/advwell
    mkdir -p "$dir"
    [ -L "$dir/platform" ] || ln -sfn ../../../.. "$dir/platform"
}

ensure_docker() {
    if docker info >/dev/null 2>&1; then
        return 0
    fi
    command -v dockerd >/dev/null || apt_install docker.io
    if [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null && docker info >/dev/null 2>&1; then
        return 0
    fi
    log "starting dockerd (log: $STATE_DIR/dockerd.log)"
    as_root sh -c "nohup dockerd >'$STATE_DIR/dockerd.log' 2>&1 &"
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && return 0
        sleep 1
    done
    die "dockerd did not come up; see $STATE_DIR/dockerd.log"
}

# Rebuilds an image only when its build inputs changed (a hash label on the image).
# Inputs: the Dockerfile, the files under the given paths (default: the context)
# and the base image it is built on.
build_image() {
    local tag=$1 dockerfile=$2 context=$3
    shift 3
    local inputs=("$@")
    [ ${#inputs[@]} -gt 0 ] || inputs=("$context")
    local hash
    hash=$( { find "${inputs[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | sort -z \
              | xargs -0 sha256sum | cut -d' ' -f1
              sha256sum < "$dockerfile"
              docker image inspect -f '{{.Id}}' advwell/debian:bookworm; } | sha256sum | cut -c1-16)
    if [ "$(docker image inspect -f '{{index .Config.Labels "advwell.inputs"}}' "$tag" 2>/dev/null)" = "$hash" ]; then
        return 0
    fi
    log "docker build $tag"
    DOCKER_BUILDKIT=0 docker build -q --label "advwell.inputs=$hash" -t "$tag" -f "$dockerfile" "$context" >/dev/null
}

build_images() {
    command -v debootstrap >/dev/null || apt_install debootstrap
    bash "$ROOT/lab/images/build-base.sh" advwell/debian:bookworm >&2
    build_image advwell/vps:bookworm "$ROOT/lab/images/vps/Dockerfile" "$ROOT/lab/images/vps"
    build_image advwell/postgres:15-lab "$ROOT/lab/images/postgres/Dockerfile" "$ROOT/lab" \
        "$ROOT/lab/images/postgres" "$ROOT/lab/datagen"
    build_image advwell/backend:lab "$ROOT/lab/images/backend/Dockerfile" "$ROOT/lab/images/backend"
    build_image advwell/redis:lab "$ROOT/lab/images/redis/Dockerfile" "$ROOT/lab/images/redis"
    build_image advwell/nginx:lab "$ROOT/lab/images/nginx/Dockerfile" "$ROOT/lab/images/nginx"
    build_image advwell/monitoring:lab "$ROOT/lab/images/monitoring/Dockerfile" "$ROOT/lab/images/monitoring"
    # SeaweedFS's binary comes from PyPI (requirements.txt), not from a registry.
    local seaweedfs=$STATE_DIR/images/seaweedfs
    mkdir -p "$seaweedfs"
    cp -u "$ROOT/lab/images/seaweedfs/Dockerfile" "$ROOT/lab/images/seaweedfs/entrypoint.sh" "$VENV/bin/weed" "$seaweedfs/"
    build_image advwell/seaweedfs:lab "$seaweedfs/Dockerfile" "$seaweedfs"
}

bootstrap() {
    ensure_venv
    ensure_collection_link
    ensure_docker
    build_images
}
