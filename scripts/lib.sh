# shellcheck shell=bash
# Shared helpers for scripts/dev and scripts/test. Source it; do not run it.
# Every ensure_* function is idempotent: it skips what is already there and
# prints one line per step.

WASM_BINDGEN_VERSION=0.2.130
WASM_TARGET=wasm32-unknown-unknown
WASM_PROFILE=wasm-release
# Crates that must never reach the browser bundle.
WASM_FORBIDDEN_CRATES=(sqlx tokio axum argon2 domain engine)
CLI_FORBIDDEN_CRATES=(sqlx axum argon2 domain)
SITE_ROOT=target/site

# Tools installed with `cargo install` live here; rustup adds it to PATH only
# in login shells.
case ":$PATH:" in
    *":${CARGO_HOME:-$HOME/.cargo}/bin:"*) ;;
    *) export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH" ;;
esac

step() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$*' and sudo is not installed"
    fi
}

_apt_updated=0

# ensure_apt_packages pkg... — install only the Debian packages not yet installed.
ensure_apt_packages() {
    local pkg missing=()
    for pkg in "$@"; do
        # Removed packages whose config files remain also answer dpkg -s.
        if dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
            continue
        fi
        missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        step "apt packages present: $*"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
    if [ "$_apt_updated" -eq 0 ]; then
        step "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        _apt_updated=1
    fi
    step "apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

_have_initdb() {
    local d
    if [ -n "${EXECGOV_POSTGRES_BIN:-}" ] && [ -x "$EXECGOV_POSTGRES_BIN/initdb" ]; then
        return 0
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && return 0
    done
    command -v initdb >/dev/null 2>&1
}

# PostgreSQL server binaries. The server runs its own private cluster; if the
# package creates and starts a system cluster ("main"), ExecGov never uses it.
# As root, the server runs its cluster as the `postgres` OS user, which the
# package creates.
ensure_postgres() {
    if _have_initdb && { [ "$(id -u)" -ne 0 ] || id postgres >/dev/null 2>&1; }; then
        step "PostgreSQL server binaries present"
        return 0
    fi
    ensure_apt_packages postgresql
    _have_initdb || die "installed postgresql but found no initdb under /usr/lib/postgresql/*/bin"
}

ensure_bubblewrap() {
    if command -v bwrap >/dev/null 2>&1; then
        step "bubblewrap present"
        return 0
    fi
    ensure_apt_packages bubblewrap
}

ensure_curl() {
    if command -v curl >/dev/null 2>&1; then
        step "curl present"
        return 0
    fi
    ensure_apt_packages curl ca-certificates
}

# python3 whose `venv` works: on Debian `python3 -m venv` needs ensurepip, which only the
# python3-venv package brings.
ensure_python_venv() {
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        step "python3 with venv present"
        return 0
    fi
    ensure_apt_packages python3 python3-venv
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 \
        || die "installed python3-venv but 'python3 -m venv' still lacks ensurepip"
}

# uv, the Python package resolver and installer the server uses for skills' packages: pinned,
# from PyPI (its wheel carries the binary), into a venv of its own under target/tools. Exports
# EXECGOV_UV (unless already set) so that the server and the tests find it.
UV_VERSION=0.13.9
UV_VENV=target/tools/uv-$UV_VERSION
ensure_uv() {
    if "$UV_VENV/bin/uv" --version 2>/dev/null | grep -q "^uv $UV_VERSION\b"; then
        step "uv $UV_VERSION present ($UV_VENV)"
    else
        ensure_python_venv
        step "pip install uv==$UV_VERSION into $UV_VENV"
        rm -rf "$UV_VENV"
        python3 -m venv "$UV_VENV"
        "$UV_VENV/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    fi
    export EXECGOV_UV="${EXECGOV_UV:-$PWD/$UV_VENV/bin/uv}"
}

ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        step "chromium present"
        return 0
    fi
    ensure_apt_packages chromium
    [ -x /usr/bin/chromium ] || die "installed chromium but /usr/bin/chromium is missing"
}

ensure_node() {
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        step "node $(node --version) and npm present"
    else
        ensure_apt_packages nodejs npm
    fi
    # end2end pins playwright-core 1.61.1, the last release that runs on
    # Node 18 (Debian 12's and Ubuntu 24.04's nodejs).
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    [ "$major" -ge 18 ] || die "node $(node --version) is too old for the end-to-end tests (need 18 or newer)"
}

ensure_wasm_target() {
    command -v rustup >/dev/null 2>&1 || die "rustup not found; install Rust with rustup first"
    if rustup target list --installed | grep -qx "$WASM_TARGET"; then
        step "rust target $WASM_TARGET present"
        return 0
    fi
    step "rustup target add $WASM_TARGET"
    rustup target add "$WASM_TARGET"
}

ensure_wasm_bindgen() {
    if command -v wasm-bindgen >/dev/null 2>&1 \
        && [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
        step "wasm-bindgen $WASM_BINDGEN_VERSION present"
        return 0
    fi
    # No --locked: with it this version fails to build.
    step "cargo install wasm-bindgen-cli --version $WASM_BINDGEN_VERSION (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
}

# brotli, to precompress the bundle (gzip is always there).
ensure_brotli() {
    if command -v brotli >/dev/null 2>&1; then
        step "brotli present"
        return 0
    fi
    ensure_apt_packages brotli
}

# Build the browser bundle and assemble the site root (target/site). The WebAssembly loses its
# names (the profile wasm-release optimises it for size; wasm-opt made the compressed bundle larger,
# see README, Performance: first load); the JavaScript and WebAssembly are named after the hash of
# their content (execgov.<hash>.js/.wasm, the hash in pkg/hash.txt for Leptos), so that browsers
# may keep them forever; every file of pkg/ gets brotli and gzip forms beside it.
build_site() {
    local pkg="$SITE_ROOT/pkg" fresh hash
    ensure_brotli
    step "build frontend ($WASM_TARGET, profile $WASM_PROFILE)"
    cargo build -p frontend --lib --target "$WASM_TARGET" --profile "$WASM_PROFILE"
    fresh="$SITE_ROOT/pkg.new"
    rm -rf "$fresh"
    mkdir -p "$fresh"
    step "wasm-bindgen -> $fresh"
    wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
        --out-dir "$fresh" --out-name execgov "target/$WASM_TARGET/$WASM_PROFILE/frontend.wasm"
    hash=$(cat "$fresh/execgov.js" "$fresh/execgov_bg.wasm" | sha256sum | cut -c1-20)
    mv "$fresh/execgov.js" "$fresh/execgov.$hash.js"
    mv "$fresh/execgov_bg.wasm" "$fresh/execgov.$hash.wasm"
    printf 'js: %s\nwasm: %s\n' "$hash" "$hash" >"$fresh/hash.txt"
    rm -rf "$pkg"
    mv "$fresh" "$pkg"
    [ -f style/main.css ] || die "style/main.css is missing"
    cat style/main.css style/dashboard.css > "$SITE_ROOT/pkg/execgov.css"
    if [ -d public ]; then
        cp -r public/. "$SITE_ROOT/"
    fi
    step "precompress $pkg (brotli, gzip)"
    local file
    for file in "$pkg"/*.js "$pkg"/*.wasm "$pkg"/*.css; do
        brotli --force --best --keep "$file"
        gzip --force --best --keep --no-name "$file"
    done
    step "site root ready: $SITE_ROOT (bundle execgov.$hash)"
}

# The first load's compressed size: the bundle's JavaScript and WebAssembly as a browser that
# accepts brotli receives them (KB = 1000 bytes). Prints a line, and fails past the budget: what the bundle measures
# now with a little room, so that it can only shrink. Issue 13 aims at 400 KB; the rest is
# Leptos's rendering code for every page (see README, Performance: first load).
FIRST_LOAD_BUDGET_KB=660
report_bundle_size() {
    local pkg="$SITE_ROOT/pkg" raw=0 br=0 gz=0 file
    for file in "$pkg"/execgov.*.js "$pkg"/execgov.*.wasm; do
        raw=$((raw + $(stat -c %s "$file")))
        br=$((br + $(stat -c %s "$file.br")))
        gz=$((gz + $(stat -c %s "$file.gz")))
    done
    step "first load (WebAssembly + JavaScript): $((br / 1000)) KB brotli, $((gz / 1000)) KB gzip, $((raw / 1000)) KB uncompressed (budget ${FIRST_LOAD_BUDGET_KB} KB brotli)"
    [ "$br" -le $((FIRST_LOAD_BUDGET_KB * 1000)) ] \
        || die "the first load is $((br / 1000)) KB brotli, past its budget of ${FIRST_LOAD_BUDGET_KB} KB"
}

# Package $1 must not link any of the crates after it: the browser bundle no server crate, the
# CLI (and so the local agent) no database, web server or password hashing. `cargo tree -i`
# prints nothing for a crate that is not in the package's normal dependencies.
check_package_links_none_of() {
    local package=$1 crate out err rc found=()
    shift
    local target=()
    [ "$package" = frontend ] && target=(--target "$WASM_TARGET")
    err=$(mktemp)
    for crate in "$@"; do
        rc=0
        out=$(cargo tree -p "$package" "${target[@]}" -e normal -i "$crate" 2>"$err") || rc=$?
        if [ "$rc" -eq 0 ]; then
            # Success with output means the crate is in the tree.
            [ -z "$out" ] || found+=("$crate")
        elif grep -q 'did not match any packages' "$err"; then
            : # not in the dependency graph at all
        else
            cat "$err" >&2
            rm -f "$err"
            die "cargo tree failed while checking for '$crate' in $package"
        fi
    done
    rm -f "$err"
    if [ "${#found[@]}" -gt 0 ]; then
        for crate in "${found[@]}"; do
            printf 'error: %s depends on %s:\n' "$package" "$crate" >&2
            cargo tree -p "$package" "${target[@]}" -e normal -i "$crate" >&2 2>/dev/null || true
        done
        die "crates $package must not link: ${found[*]}"
    fi
}
