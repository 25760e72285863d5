# Sourced by the scripts: one place for the toolchain path and the build folder.
# rustup installs cargo here; a non-login shell may not have it on PATH.
[ -d "${HOME:-/root}/.cargo/bin" ] && export PATH="${HOME:-/root}/.cargo/bin:$PATH"
# One build folder per checkout, outside it: dependencies rebuild once per
# folder, and a checkout never runs test binaries built from another folder's
# sources (cargo judges freshness by mtime, and CARGO_MANIFEST_DIR is baked in).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/islet-target/$(pwd -P | sha256sum | cut -c1-12)}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Builds the release binary and links it as bin/islet in the checkout (the
# path the README's commands use).
build_islet() {
  cargo build --release --locked -p islet
  mkdir -p bin
  ln -sf "$CARGO_TARGET_DIR/release/islet" bin/islet
}
